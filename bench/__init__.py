"""Squall's benchmarks, run on demand with `python -m bench [NAME ...]` (see docs/performance.md)."""
