"""Benchmarks: each prints its figures and PASS/FAIL against its targets."""
