"""Garbage-collector settings for GenPulse's long-lived service processes (workers, the task store, limiters).

A worker driving a thousand jobs allocates a great many short-lived objects (pydantic models, httpx requests,
Ray messages). With CPython's default thresholds (700, 10, 10) its cyclic collector then runs constantly, and
each full collection walks every object of the process, including the hundreds of thousands that Ray, pydantic
and httpx create at import and that are never garbage: a profile of the worker under the submit storm spent
about 12 % of its CPU in ``gc_collect_main``. ``tune`` collects once, then freezes what the set-up process holds
(moved out of all future collections; CPython's documented use of ``gc.freeze``) and runs the youngest
generation's collection less often. Reference counting still frees acyclic garbage at once; reference cycles are
still collected, in larger and rarer batches. Ray Serve does the same for its replicas and proxy
(``RAY_SERVE_THROUGHPUT_OPTIMIZED``).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young-generation collections (CPython: 700)


def tune(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Call once the process is set up (its modules imported, its clients built)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
