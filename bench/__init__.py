"""Benchmarks: ``python -m bench --help``. Results land in bench/results/ and docs/BENCHMARKS.md."""
