"""The standalone benchmarks, each run as `python -m bench.tools.NAME`: startup (container
start-up against runc and the floors), vmboot (the VM driver's cost), buildtime (cold and
cached builds). Their statistics are results.stats'."""
