"""Benchmarks of the bridge: `make bench` (python -m bench.run) prints a table and writes
bench/results.json. Each figure is measured next to its baseline in the same run. Not part of
`make test`."""
