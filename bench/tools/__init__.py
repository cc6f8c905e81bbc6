"""The standalone benchmarks: each a `python -m bench.tools.<name>` of its own."""
