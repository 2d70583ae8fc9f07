"""Benchmarks run by `make bench` (`python -m bench`): every bench_*.py module's run()."""
