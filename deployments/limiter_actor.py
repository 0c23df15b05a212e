"""RateLimiterActor: one named, detached async actor per vendor around ``genpulse.providers.ratelimit.RateLimiter``.

Not a Serve deployment: replicas would split the budget. ``num_cpus=0``; restartable (its counters restart
empty, which at worst admits one extra window of calls). ``ActorLimiter`` is the client workers use; it implements
``genpulse.providers.vendor_runner.Limiter``. Limits change at run time with ``configure`` (no restart).
"""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import RayActorError

from genpulse.core.config import AppArgs
from genpulse.core.errors import ServiceUnavailable
from genpulse.providers.ratelimit import RateLimiter


def limiter_name(provider: str) -> str:
    return f"genpulse-limiter-{provider}"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=10_000)
class RateLimiterActor(RateLimiter):
    """The RateLimiter on one event loop, shared by every worker of the cluster."""


def connect_limiter(provider: str, args: AppArgs) -> Any:
    cfg = args.provider(provider)
    return RateLimiterActor.options(
        name=limiter_name(provider),
        namespace=args.namespace,
        lifetime="detached",
        get_if_exists=True,
        **args.placement.limiters.actor_options(),
    ).remote(cfg.rps, cfg.max_concurrent_jobs)


class ActorLimiter:
    """Client of a RateLimiterActor; an unreachable limiter is a retryable ``ServiceUnavailable``."""

    def __init__(self, handle: Any) -> None:
        self._actor = handle

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._actor, method).remote(*args)
        except RayActorError as exc:
            raise ServiceUnavailable(f"rate limiter unavailable: {type(exc).__name__}") from None

    async def acquire_request(self, priority: str = "normal") -> float:
        return await self._call("acquire_request", priority)

    async def acquire_job(self, task_id: str, priority: str = "normal") -> float:
        return await self._call("acquire_job", task_id, priority)

    async def release_job(self, task_id: str) -> None:
        await self._call("release_job", task_id)

    async def report_429(self, retry_after: float | None = None) -> None:
        await self._call("report_429", retry_after)
