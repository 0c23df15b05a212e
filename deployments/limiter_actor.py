"""RateLimiterActor: one named, detached async actor per vendor around ``genpulse.ratelimit.RateLimiter``.

Not a Serve deployment: replicas would split the budget. ``num_cpus=0``; restartable (its counters restart
empty, which at worst admits one extra burst). ``ActorLimiter`` is the client workers use; it implements
``genpulse.vendor_runner.Limiter``. Limits change at run time with ``configure`` (no restart).
"""

from __future__ import annotations

from typing import Any

import ray

from genpulse.config import AppArgs
from genpulse.ratelimit import RateLimiter


def limiter_name(provider: str) -> str:
    return f"genpulse-limiter-{provider}"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=10_000)
class RateLimiterActor(RateLimiter):
    """The RateLimiter on one event loop, shared by every worker of the cluster."""


def connect_limiter(provider: str, args: AppArgs) -> Any:
    cfg = args.provider(provider)
    return RateLimiterActor.options(
        name=limiter_name(provider), namespace=args.namespace, lifetime="detached", get_if_exists=True
    ).remote(cfg.rps, cfg.max_concurrent_jobs, cfg.burst)


class ActorLimiter:
    def __init__(self, handle: Any) -> None:
        self._actor = handle

    async def acquire_request(self, priority: str = "normal") -> float:
        return await self._actor.acquire_request.remote(priority)

    async def acquire_job(self, task_id: str, priority: str = "normal") -> float:
        return await self._actor.acquire_job.remote(task_id, priority)

    async def release_job(self, task_id: str) -> None:
        await self._actor.release_job.remote(task_id)

    async def report_429(self, retry_after: float | None = None) -> None:
        await self._actor.report_429.remote(retry_after)
