"""The System report (``GET /v1/admin/system``): per provider its rate limiter, worker pool and open queue, plus
the storage backend.

Gathered on request from wherever the parts live: the limiter and worker actors in a cluster, in-process objects
otherwise. Each part has ``PART_TIMEOUT_S`` to answer; one that does not (or fails) is reported as its error, so
one lost actor never hides the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from genpulse.core.config import StorageConfig
from genpulse.tasks.queue_stats import QueueStats

PART_TIMEOUT_S = 3.0


@runtime_checkable
class ReportsStats(Protocol):
    """A limiter that can say how it stands (``RateLimiter.stats``; through Ray, ``ActorLimiter.stats``)."""

    async def stats(self) -> dict[str, Any]: ...


class LimiterStats(BaseModel):
    model_config = ConfigDict(extra="ignore")
    rps: float = Field(description="Configured requests per second, cluster-wide.")
    current_rps: float = Field(description="The rate now: lower than `rps` while it recovers from a vendor 429.")
    window_calls: int = Field(0, description="Vendor calls granted in the current sliding window.")
    waiting_requests: int = Field(description="Calls waiting for a request token.")
    max_concurrent_jobs: int
    jobs_held: int = Field(description="Job slots in use (vendor jobs in flight).")
    waiting_jobs: int = Field(description="Tasks waiting for a job slot.")
    throttled_429: int = Field(description="Vendor 429s reported since the limiter started.")
    jobs_expired: int = Field(0, description="Slots freed because nobody renewed their lease.")
    restarted: bool = False
    waited_s: float = Field(0.0, description="Seconds spent waiting for request tokens, in total.")
    out_reason: str | None = Field(
        None,
        description="Set while model aliases route around this instance: `arrears`, `credentials` or `unreachable`.",
    )
    out_for_s: float | None = Field(None, description="Seconds until model aliases route to this instance again.")


class WorkerStats(BaseModel):
    name: str
    in_flight: int | None = Field(None, description="Tasks this worker is driving now.")
    error: str | None = Field(None, description="Why the worker did not answer.")


class ProviderSystem(BaseModel):
    provider: str
    limiter: LimiterStats | None = Field(
        None, description="None for a provider without a rate limiter (local, or without credentials)."
    )
    limiter_error: str | None = None
    workers: list[WorkerStats]
    in_flight: int = Field(description="Tasks its workers drive now (the workers that answered).")
    queued: int
    running: int
    oldest_queued_s: float | None = None


class StorageInfo(BaseModel):
    type: str = Field(description="`local` or `s3`.")
    location: str = Field(description="The data directory, or `s3://bucket/prefix`.")
    endpoint_url: str | None = None
    public_base_url: str | None = None


class SystemReport(BaseModel):
    providers: list[ProviderSystem]
    storage: StorageInfo
    store: str = Field(description="The task store's kind: `RedisTaskStore`, `ActorTaskStore`, `MemoryTaskStore`.")
    store_up: bool = Field(description="Whether the store answered the queue walk.")
    generated_at: float = Field(description="Unix seconds.")


def _error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"TimeoutError: no answer in {PART_TIMEOUT_S:g} s"
    return f"{type(exc).__name__}: {exc}"[:300]


async def limiter_stats(limiter: object) -> LimiterStats | str:
    """The limiter's stats, or why they could not be had."""
    if not isinstance(limiter, ReportsStats):
        return f"{type(limiter).__name__} reports no stats"
    try:
        return LimiterStats.model_validate(await asyncio.wait_for(limiter.stats(), PART_TIMEOUT_S))
    except Exception as exc:
        return _error(exc)


async def worker_stats(name: str, ping: Callable[[], Awaitable[Mapping[str, Any]]]) -> WorkerStats:
    """One worker's answer to ``ping`` (``{"name", "in_flight"}``), or why it gave none."""
    try:
        info = await asyncio.wait_for(ping(), PART_TIMEOUT_S)
        return WorkerStats(name=str(info.get("name") or name), in_flight=int(info["in_flight"]))
    except Exception as exc:
        return WorkerStats(name=name, error=_error(exc))


def storage_info(cfg: StorageConfig) -> StorageInfo:
    location = f"s3://{cfg.bucket}/{cfg.prefix}" if cfg.type == "s3" else str(cfg.path)
    return StorageInfo(
        type=cfg.type, location=location, endpoint_url=cfg.endpoint_url, public_base_url=cfg.public_base_url
    )


async def system_report(
    providers: Sequence[str],
    limiters: Mapping[str, object],
    pools: Awaitable[Mapping[str, list[WorkerStats]]],
    queue: Awaitable[QueueStats],
    storage: StorageConfig,
    store: str,
) -> SystemReport:
    """Gather every part at once; ``limiters`` holds the configured rate-limited providers' limiters."""
    names = list(limiters)
    gathered = await asyncio.gather(pools, queue, *(limiter_stats(limiters[n]) for n in names))
    pool_stats: Mapping[str, list[WorkerStats]] = gathered[0]
    queue_stats: QueueStats = gathered[1]
    by_limiter: dict[str, LimiterStats | str] = dict(zip(names, gathered[2:], strict=True))
    rows = []
    for provider in providers:
        stats = by_limiter.get(provider)
        workers = list(pool_stats.get(provider, []))
        oldest = queue_stats.oldest_queued_s.get(provider)
        rows.append(
            ProviderSystem(
                provider=provider,
                limiter=stats if isinstance(stats, LimiterStats) else None,
                limiter_error=stats if isinstance(stats, str) else None,
                workers=workers,
                in_flight=sum(w.in_flight or 0 for w in workers),
                queued=queue_stats.counts[(provider, "queued")],
                running=queue_stats.counts[(provider, "running")],
                oldest_queued_s=None if oldest is None else round(oldest, 3),
            )
        )
    return SystemReport(
        providers=rows, storage=storage_info(storage), store=store, store_up=queue_stats.up, generated_at=time.time()
    )
