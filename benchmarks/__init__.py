"""Scripts that print figures, never run as tests: ``python -m benchmarks.<name>`` from the
repository's root (docs/benchmarks.md). What they share is in ``benchmarks.harness``."""
