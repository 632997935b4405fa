"""Benchmark harness: server launchers, a bare Flask baseline, load generators and `python -m bench.run`."""
