"""Benchmarks: GenPulse side by side with the Celery baseline (``../shared/bench``) and the raw diffusion pipeline.

Run one scenario with ``python -m benchmarks <scenario>``; see ``docs/benchmarks.md``.
"""
