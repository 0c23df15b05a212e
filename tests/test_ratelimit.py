"""RateLimiter: the quota, priorities, job slots, 429 back-off and run-time reconfiguration (real time)."""

from __future__ import annotations

import asyncio
import time

from genpulse.providers.ratelimit import RateLimiter


def max_in_any_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_rate_is_respected_and_used() -> None:
    limiter = RateLimiter(rps=10, max_concurrent_jobs=5)
    stamps: list[float] = []

    async def call() -> None:
        await limiter.acquire_request()
        stamps.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(call() for _ in range(25)))
    elapsed = time.monotonic() - started
    assert max_in_any_window(stamps) <= 10
    assert (25 - 1) / elapsed >= 0.9 * 10  # paced 0.1 s apart, a short pause per window for the guard


async def test_priorities_first_then_fifo() -> None:
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1)
    order: list[str] = []
    await limiter.acquire_job("holder")

    async def job(name: str, priority: str) -> None:
        await limiter.acquire_job(name, priority)
        order.append(name)
        await limiter.release_job(name)

    waiters = [
        asyncio.create_task(job(n, p))
        for n, p in [("low1", "low"), ("n1", "normal"), ("high1", "high"), ("n2", "normal"), ("high2", "high")]
    ]
    await asyncio.sleep(0.05)
    assert order == []
    await limiter.release_job("holder")
    await asyncio.gather(*waiters)
    assert order == ["high1", "high2", "n1", "n2", "low1"]


async def test_job_slots_are_keyed_by_task() -> None:
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=2)
    await limiter.acquire_job("a")
    await limiter.acquire_job("a")  # a resumed task re-acquires its own slot
    await limiter.acquire_job("b")
    third = asyncio.create_task(limiter.acquire_job("c"))
    await asyncio.sleep(0.05)
    assert not third.done() and (await limiter.stats())["jobs_held"] == 2
    await limiter.release_job("a")
    await asyncio.wait_for(third, 1)
    await limiter.release_job("zzz")  # releasing what is not held is harmless
    assert (await limiter.stats())["jobs_held"] == 2


async def test_cancelled_waiter_gives_up_its_place() -> None:
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1)
    await limiter.acquire_job("a")
    gone = asyncio.create_task(limiter.acquire_job("b"))
    await asyncio.sleep(0.01)
    gone.cancel()
    nxt = asyncio.create_task(limiter.acquire_job("c"))
    await asyncio.sleep(0.01)
    await limiter.release_job("a")
    await asyncio.wait_for(nxt, 1)
    assert (await limiter.stats())["jobs_held"] == 1


async def test_429_backs_off_then_recovers() -> None:
    limiter = RateLimiter(rps=20, max_concurrent_jobs=5, recovery_per_s=40)
    await limiter.report_429(retry_after=0.3)
    started = time.monotonic()
    await limiter.acquire_request()
    assert time.monotonic() - started >= 0.28  # nobody goes before Retry-After
    assert (await limiter.stats())["current_rps"] < 20
    await asyncio.sleep(0.5)
    stats = await limiter.stats()
    assert stats["current_rps"] == 20 and stats["throttled_429"] == 1


async def test_configure_at_run_time() -> None:
    limiter = RateLimiter(rps=2, max_concurrent_jobs=1)
    await limiter.acquire_request()
    await limiter.acquire_request()
    slow = asyncio.create_task(limiter.acquire_request())
    await asyncio.sleep(0.05)
    assert not slow.done()
    limiter.configure(rps=100, max_concurrent_jobs=3)
    await asyncio.wait_for(slow, 0.2)
    await limiter.acquire_job("a")
    await limiter.acquire_job("b")
    await asyncio.wait_for(limiter.acquire_job("c"), 0.2)
    assert (await limiter.stats())["max_concurrent_jobs"] == 3
