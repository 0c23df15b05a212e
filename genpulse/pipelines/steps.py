"""Running one CPU step of a pipeline: as a Ray task (``max_retries``) when Ray is up, in a thread otherwise.

A Ray task started by a ProviderWorker actor is owned by that detached actor, so it outlives the request and
the ingress replica; ``max_retries`` re-runs it when its worker process or node dies. Application errors
(``InvalidRequest``...) are not retried: they come back as they were raised.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
STEP_RETRIES = 3


async def run_step(fn: Callable[..., T], *args: Any) -> T:
    ray = sys.modules.get("ray")  # never import Ray just for this: only where it is already in use
    if ray is not None and ray.is_initialized():
        remote = ray.remote(num_cpus=1, max_retries=STEP_RETRIES, retry_exceptions=False)(fn)
        try:
            return await remote.remote(*args)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, Exception) else exc) from None
    return await asyncio.to_thread(fn, *args)
