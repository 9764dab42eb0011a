"""Benchmarks for roomcal (not part of the package or the test suite): `python -m benchmarks.bench`."""
