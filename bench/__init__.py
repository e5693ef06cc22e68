"""Benchmarks: `python -m bench` (figures, not pass/fail)."""
