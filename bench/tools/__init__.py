"""The standalone benchmarks, each run as `python -m bench.tools.NAME`: startup (container
start-up against runc and the floors), vmboot (the VM driver's cost), buildtime (cold and
cached builds), netperf (the net workload's measurement on its own). Their statistics are
results.stats'."""
