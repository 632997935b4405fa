"""The benchmark: a bare Flask baseline, load generators, the report and `python -m bench.run`."""
