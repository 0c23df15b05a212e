"""RateLimiter: the quota, priorities, job slots, 429 back-off and run-time reconfiguration (real time); job slots
as leases (owner, expiry, renewal, re-registration after a limiter restart), in-process and through a Ray actor."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from genpulse.core.config import ProviderConfig
from genpulse.core.schemas import Asset, Task, TaskStatus
from genpulse.providers.cloud import JobState, VendorJob, VendorOutput
from genpulse.providers.job_slots import JobSlot
from genpulse.providers.ratelimit import RateLimiter, SlotWithdrawn
from genpulse.providers.vendor_runner import VendorRunner


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


# --- job slots are leases (issue 12, item 7) ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait on the event loop until ``predicate()`` (a value or an awaitable) is true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def stat(limiter: Any, key: str) -> Any:
    return (await limiter.stats())[key]


async def _is(stats: Awaitable[dict[str, Any]], key: str, value: Any) -> bool:
    return (await stats)[key] == value


class RemoteCalls:
    """A limiter reached the way a Ray actor is: each call runs on its own, so a caller that gives up (cancelled,
    or past its deadline) leaves its call, and the waiter it queued, running in the limiter."""

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.shield(asyncio.ensure_future(method(*args, **kwargs)))

        return call


class GatedVendor:
    """A cloud provider whose jobs run until the test ends them (``finish``)."""

    name, finds_by_ref = "gated", False

    def __init__(self) -> None:
        self.config = ProviderConfig()
        self.callbacks = None  # polls only
        self.submitted: list[str] = []
        self._done: dict[str, asyncio.Event] = {}

    def validate(self, task_type: str, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def finish(self, job_id: str) -> None:
        self._done.setdefault(job_id, asyncio.Event()).set()

    async def submit(self, client: Any, task_type: str, params: dict[str, Any]) -> VendorJob:
        self.submitted.append(params["name"])
        return VendorJob(params["name"], JobState.running)

    async def poll(self, client: Any, task_type: str, job_id: str) -> VendorJob:
        await self._done.setdefault(job_id, asyncio.Event()).wait()
        return VendorJob(job_id, JobState.succeeded, outputs=[VendorOutput("image", url="https://x.test/a.png")])

    def poll_delay(self, task_type: str, elapsed: float, polls: int) -> float:
        return 0.0

    async def cancel(self, client: Any, task_type: str, job_id: str) -> None:
        self.finish(job_id)


class Ctx:
    def __init__(self, owner: str) -> None:
        self.owner, self.slot_owner, self.abandoned, self.storage = owner, owner, False, None
        self.cancel_owed = False

    async def progress(self, value: float) -> None:
        pass

    async def submitting(self) -> None:
        pass

    async def checkpoint(self, provider_task_id: str | None) -> None:
        pass


def vendor_task(name: str) -> Task:
    return Task(
        id=name, provider="gated", task_type="text-to-image", status=TaskStatus.running, params={"name": name},
        created_at=time.time(),
    )  # fmt: skip


async def rehost(storage: object, output: VendorOutput) -> Asset:
    return Asset(id="ast_1", content_type="image/png", bytes=1, sha256="0" * 64, url=output.url or "")


async def test_waiters_that_give_up_do_not_jam_the_slots() -> None:
    """The measured jam: 2 slots busy, 2 waiters give up (one cancelled, one past its deadline) while the limiter
    is reached like a Ray actor; a new task still gets a slot as soon as one holder ends."""
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=2)
    vendor = GatedVendor()
    runner = VendorRunner(vendor, None, RemoteCalls(limiter), rehost)  # type: ignore[arg-type]

    def start(name: str, owner: str) -> asyncio.Task[dict[str, Any]]:
        return asyncio.create_task(runner.run(vendor_task(name), Ctx(owner)))

    holders = [start("h1", "w1"), start("h2", "w2")]
    await until(lambda: vendor.submitted == ["h1", "h2"], what="both holders to submit")
    cancelled = start("w-cancel", "w1")
    await until(lambda: stat(limiter, "waiting_jobs"), what="a waiter to queue")
    with pytest.raises(TimeoutError):  # as a worker runs a task: under its deadline
        await asyncio.wait_for(runner.run(vendor_task("w-deadline"), Ctx("w2")), 0.3)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    late = start("late", "w3")
    await until(lambda: stat(limiter, "waiting_jobs"), what="the late task to queue")
    vendor.finish("h1")
    await holders[0]
    await until(lambda: "late" in vendor.submitted, 5.0, "the late task to get h1's slot")
    vendor.finish("h2")
    vendor.finish("late")
    await asyncio.gather(holders[1], late)
    assert vendor.submitted == ["h1", "h2", "late"]  # the abandoned waiters never ran
    await until(lambda: _is(limiter.stats(), "jobs_held", 0), what="every slot released")
    assert await stat(limiter, "waiting_jobs") == 0


async def test_a_lease_nobody_renews_expires() -> None:
    """A holder that died (its worker is down, its task ended meanwhile) frees its slot after the TTL."""
    clock = FakeClock()
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1, job_ttl_s=60, clock=clock)
    await limiter.acquire_job("a", owner="w1")
    waiter = asyncio.create_task(limiter.acquire_job("b", owner="w2"))
    await until(lambda: _is(limiter.stats(), "waiting_jobs", 1), what="b to queue")
    clock.now += 59
    assert await stat(limiter, "jobs_held") == 1 and not waiter.done()
    clock.now += 2
    await limiter.stats()  # any call (or the limiter's own timer) notices the expiry
    await asyncio.wait_for(waiter, 1)
    stats = await limiter.stats()
    assert stats["jobs_held"] == 1 and stats["jobs_expired"] == 1


async def test_renewals_keep_a_lease_and_reregister_it_after_a_restart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=2, job_ttl_s=60, clock=clock)
    await limiter.acquire_job("a", owner="w1")
    for _ in range(3):
        clock.now += 50
        assert await limiter.renew_job("a", "w1")
    assert await stat(limiter, "jobs_held") == 1

    restarted = RateLimiter(rps=1000, max_concurrent_jobs=2, job_ttl_s=60, clock=clock)  # forgot every slot
    await restarted.acquire_job("new", owner="w3")  # a new job came first
    assert await restarted.renew_job("a", "w1") and await restarted.renew_job("b", "w2")
    assert await stat(restarted, "jobs_held") == 3  # over the limit until jobs end: running jobs are never stopped
    waiter = asyncio.create_task(restarted.acquire_job("c", owner="w3"))
    await restarted.release_job("new", "w3")
    await until(lambda: _is(restarted.stats(), "waiting_jobs", 1), what="c to queue")
    assert not waiter.done()  # 2 held: still at the limit
    await restarted.release_job("a", "w1")
    await asyncio.wait_for(waiter, 1)


async def test_a_restarted_limiter_lets_running_jobs_reregister_first() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1, job_ttl_s=60, clock=clock)
    limiter.restarted()  # what the actor does when Ray restarts it
    newcomer = asyncio.create_task(limiter.acquire_job("new", owner="w2"))
    await until(lambda: _is(limiter.stats(), "waiting_jobs", 1), what="the newcomer to queue")
    assert await limiter.renew_job("running", "w1")  # a running job's renewal re-registers its slot
    clock.now += 31  # half a TTL: every running job has renewed by now
    await limiter.release_job("running", "w1")
    await asyncio.wait_for(newcomer, 1)
    assert await stat(limiter, "jobs_held") == 1


async def test_slots_belong_to_their_owner() -> None:
    """A task adopted by another worker takes its slot along; the old owner can neither renew nor free it."""
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1)
    await limiter.acquire_job("t", owner="w1")
    await asyncio.wait_for(limiter.acquire_job("t", owner="w2"), 1)  # adopted: the same slot, now w2's
    await limiter.release_job("t", "w1")  # the old owner's release is a no-op
    assert await stat(limiter, "jobs_held") == 1
    assert not await limiter.renew_job("t", "w1")
    assert await limiter.renew_job("t", "w2")
    other = asyncio.create_task(limiter.acquire_job("u", owner="w1"))
    await until(lambda: _is(limiter.stats(), "waiting_jobs", 1), what="u to queue")
    await limiter.release_job("t", "w2")
    await asyncio.wait_for(other, 1)

    stale = asyncio.create_task(limiter.acquire_job("v", owner="w1"))  # w1 waits for v, then loses v to w3
    await until(lambda: _is(limiter.stats(), "waiting_jobs", 1), what="v to queue")
    adopted = asyncio.create_task(limiter.acquire_job("v", owner="w3"))
    with pytest.raises(SlotWithdrawn):
        await asyncio.wait_for(stale, 1)
    await limiter.release_job("u", "w1")
    await asyncio.wait_for(adopted, 1)
    assert await stat(limiter, "jobs_held") == 1


async def test_a_released_waiter_never_gets_a_slot() -> None:
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1)
    await limiter.acquire_job("a", owner="w1")
    waiting = asyncio.create_task(limiter.acquire_job("b", owner="w2"))
    await until(lambda: _is(limiter.stats(), "waiting_jobs", 1), what="b to queue")
    await limiter.release_job("b", "w2")  # what a caller that gave up sends
    await asyncio.wait_for(waiting, 1)
    await limiter.release_job("a", "w1")
    stats = await limiter.stats()
    assert stats["jobs_held"] == 0 and stats["waiting_jobs"] == 0


async def test_job_slot_cancelled_just_after_the_grant_frees_it() -> None:
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1)
    await limiter.acquire_job("a", owner="w1")
    acquiring = asyncio.create_task(JobSlot(limiter, "b", "w2").acquire())
    await until(lambda: _is(limiter.stats(), "waiting_jobs", 1), what="b to queue")
    await limiter.release_job("a", "w1")  # grants b ...
    acquiring.cancel()  # ... but b's caller gives up before it resumes
    with pytest.raises(asyncio.CancelledError):
        await acquiring
    await until(lambda: _is(limiter.stats(), "jobs_held", 0), what="b's slot to be released")


async def test_job_slot_renews_and_releases_only_its_own() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=2, job_ttl_s=60, clock=clock)

    async def renewed() -> bool:
        return (await limiter.leases())["t"]["expires_in"] > 55

    slot = JobSlot(limiter, "t", "w1", renew_every=0.01)
    async with slot:
        for _ in range(3):  # without renewals the lease would expire at +60
            clock.now += 50
            await until(renewed, what="a renewal")
        assert await stat(limiter, "jobs_held") == 1
        await limiter.acquire_job("t", owner="w2")  # the task was adopted elsewhere
        await until(lambda: slot.lost, what="the slot to learn it lost the lease")
    assert (await limiter.leases())["t"]["owner"] == "w2"  # leaving did not free the new owner's slot
    async with JobSlot(limiter, "u", "w1"):
        pass
    assert "u" not in await limiter.leases()


@pytest.mark.ray
async def test_limiter_actor_drops_waiters_that_gave_up_and_relearns_slots_after_a_restart(ray_serve: Any) -> None:
    """Through a real limiter actor: waiters that give up leave no waiter behind (cancelling the caller does not
    cancel the actor call), and a restarted actor relearns the running jobs' slots from their renewals."""
    import ray

    from deployments.limiter_actor import ActorLimiter, RateLimiterActor

    handle = RateLimiterActor.options(name=f"limiter-test-{uuid.uuid4().hex[:8]}").remote(1000, 2, job_ttl_s=3.0)
    limiter = ActorLimiter(handle)

    def actor_stats() -> Awaitable[dict[str, Any]]:
        return handle.stats.remote()

    try:
        holders = {name: JobSlot(limiter, name, f"w-{name}", renew_every=0.5) for name in ("h1", "h2")}
        for slot in holders.values():
            await slot.acquire()
        cancelled = asyncio.create_task(JobSlot(limiter, "gives-up", "w3").acquire())
        await until(lambda: _is(actor_stats(), "waiting_jobs", 1), what="a waiter to queue")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(JobSlot(limiter, "past-deadline", "w4").acquire(), 0.5)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await until(lambda: _is(actor_stats(), "waiting_jobs", 0), what="the waiters to be dropped")

        ray.kill(handle, no_restart=False)  # the limiter restarts empty; the holders' renewals re-register
        await until(lambda: _is(actor_stats(), "restarted", True), 60, "the limiter to restart")
        await until(lambda: _is(actor_stats(), "jobs_held", 2), 30, "the running jobs to re-register")
        late = JobSlot(limiter, "late", "w5", renew_every=0.5)
        acquiring = asyncio.create_task(late.acquire())
        await until(lambda: _is(actor_stats(), "waiting_jobs", 1), what="the late task to queue")
        assert not acquiring.done()  # 2 running jobs still hold both slots
        await holders["h1"].release()
        await asyncio.wait_for(acquiring, 15)
        await holders["h2"].release()
        await late.release()
        assert (await actor_stats())["jobs_held"] == 0
    finally:
        ray.kill(handle)


async def test_the_job_slot_is_free_while_the_outputs_download() -> None:
    """A concurrency-limited vendor counts a job until it ends, not while we fetch its outputs: the next task
    submits while the first one's download is still running."""
    limiter = RateLimiter(rps=1000, max_concurrent_jobs=1)
    vendor = GatedVendor()
    downloading, downloaded = asyncio.Event(), asyncio.Event()

    async def slow_rehost(storage: object, output: VendorOutput) -> Asset:
        downloading.set()
        await downloaded.wait()
        return await rehost(storage, output)

    runner = VendorRunner(vendor, None, RemoteCalls(limiter), slow_rehost)  # type: ignore[arg-type]
    first = asyncio.create_task(runner.run(vendor_task("first"), Ctx("w1")))
    await until(lambda: vendor.submitted == ["first"], what="the first submit")
    second = asyncio.create_task(runner.run(vendor_task("second"), Ctx("w1")))
    await until(lambda: stat(limiter, "waiting_jobs"), what="the second task to wait for the slot")
    vendor.finish("first")
    await asyncio.wait_for(downloading.wait(), 5.0)
    await until(lambda: vendor.submitted == ["first", "second"], 5.0, "the second submit during the download")
    assert not first.done()
    downloaded.set()
    vendor.finish("second")
    await asyncio.gather(first, second)
    await until(lambda: _is(limiter.stats(), "jobs_held", 0), what="every slot released")
