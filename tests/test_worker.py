"""TaskWorker without Ray: leases, reconcile, retries with backoff, permanent errors, exhausted attempts.

The vendor is the Kling imitation (errors injected by code); the store is the MemoryTaskStore.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from genpulse.core.schemas import Task, TaskRequest, TaskStatus, now
from genpulse.jobs.task_worker import TaskWorker
from genpulse.wiring.in_process import LocalRuntime
from tests.support.kling_runtime import VIDEO, Vendor, runtime, vendor


@pytest.fixture
def kling() -> Iterator[Vendor]:
    yield from vendor(queue_s=0.05, run_s=0.1)


async def submit(rt, **extra) -> Task:  # type: ignore[no-untyped-def]
    body = {"provider": "kling", "task_type": "text-to-video", "params": VIDEO, **extra}
    task, _ = await rt.service.submit(TaskRequest.model_validate(body))
    return task


class Recorded:
    """The worker's clock and jitter source: real time, and a fixed draw; each draw notes the clock reading it
    was made after (the worker computes a backoff right after reading its clock)."""

    def __init__(self, draw: float) -> None:
        self.draw, self.last = draw, 0.0
        self.draws_at: list[float] = []

    def clock(self) -> float:
        self.last = time.time()
        return self.last

    def rng(self) -> float:
        self.draws_at.append(self.last)
        return self.draw


def watching_worker(rt: LocalRuntime, watched: list[float]) -> TaskWorker:
    """The runtime's Kling worker, rebuilt to read its monotonic clock (how it times other owners' leases)
    from ``watched``."""
    old = rt.workers["kling"][0]
    worker = TaskWorker(
        old.name, old.provider, old.store, old.storage, old.runner, old.config, monotonic=lambda: watched[0]
    )
    rt.workers["kling"][:] = [worker]
    return worker


def recorded_worker(rt: LocalRuntime, recorded: Recorded) -> None:
    """Replace the runtime's Kling worker by one that reads ``recorded``'s clock and draws from its rng."""
    old = rt.workers["kling"][0]
    worker = TaskWorker(
        old.name, old.provider, old.store, old.storage, old.runner, old.config, clock=recorded.clock, rng=recorded.rng
    )
    rt.workers["kling"][:] = [worker]


async def test_retryable_error_backs_off_then_succeeds(tmp_path: Path, kling: Vendor) -> None:
    # no in-place retry of refused submits: the refusal fails the attempt, and the task backs off
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, submit_retry_budget_s=0, workers={"backoff_base_s": 0.3})
    recorded = Recorded(draw=0.25)
    recorded_worker(rt, recorded)
    kling.state.errors.append("5000")  # the first submit gets a vendor 500
    task = await submit(rt)
    requeued = await rt.service.store.get(task.id)
    while requeued.status != TaskStatus.queued or requeued.not_before is None:  # the failed attempt settles
        requeued = await rt.service.store.wait(task.id, after_version=requeued.version, timeout=5)
    assert requeued.status == TaskStatus.queued and requeued.not_before is not None
    assert requeued.error and requeued.error.type == "provider_server_error"
    (settled_at,) = recorded.draws_at  # one backoff was drawn, when the failed attempt settled
    # equal jitter after attempt 1: half the base, plus the draw times the other half (0.15 + 0.25 * 0.15)
    assert requeued.not_before == pytest.approx(settled_at + 0.1875, abs=1e-6)
    done = await rt.service.get(task.id, wait=10)
    assert done.status == TaskStatus.succeeded and done.attempts == 2 and done.error is None
    assert len(kling.state.jobs) == 1
    assert len(recorded.draws_at) == 1  # the success drew no further backoff
    failed_submit, retried_submit = kling.metered.calls[:2]
    assert failed_submit <= settled_at < requeued.not_before <= retried_submit  # the retry waited out the backoff


async def test_permanent_error_fails_at_once(tmp_path: Path, kling: Vendor) -> None:
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05)
    kling.state.errors.append("1301")  # content moderation
    done = await rt.service.get((await submit(rt)).id, wait=10)
    assert done.status == TaskStatus.failed and done.attempts == 1
    assert done.error and done.error.type == "content_moderated" and not done.error.retryable


async def test_exhausted_attempts_end_failed_with_the_last_error(tmp_path: Path, kling: Vendor) -> None:
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, submit_retry_budget_s=0, workers={"max_attempts": 3})
    kling.state.errors.extend(["5000", "5000", "5001"])
    done = await rt.service.get((await submit(rt)).id, wait=20)
    assert done.status == TaskStatus.failed and done.attempts == 3
    assert done.error and done.error.type == "provider_server_error"
    assert not kling.state.jobs


async def test_refused_submits_are_retried_in_place_not_as_attempts(tmp_path: Path, kling: Vendor) -> None:
    """Rate limits and server errors the vendor answers in its own envelope made no job: they are waited out
    (the limiter backs off) and retried, and the user sees a slow task, not a 429 after three quick tries."""
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, workers={"max_attempts": 3})
    kling.state.errors.extend(["1302", "1302", "1302", "5000", "5001"])
    done = await rt.service.get((await submit(rt)).id, wait=60)
    assert done.status == TaskStatus.succeeded and done.attempts == 1, done.error
    assert len(kling.state.jobs) == 1 and not kling.state.errors


async def test_reconcile_adopts_orphans_and_respects_live_leases(tmp_path: Path, kling: Vendor) -> None:
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, workers={"queued_grace_s": 0})
    store = rt.service.store
    base = Task(
        id="",
        provider="kling",
        task_type="text-to-video",
        status=TaskStatus.queued,
        params=VIDEO,
        created_at=now(),
        deadline_at=now() + 60,
    )
    orphan, _ = await store.create(base.model_copy(update={"id": "tsk_000000000001aaaaaaaaaaaa"}))
    expired, _ = await store.create(
        base.model_copy(
            update={
                "id": "tsk_000000000002aaaaaaaaaaaa",
                "status": TaskStatus.running,
                "owner": "dead-worker",
                "lease_expires_at": now() - 3600,
            }
        )
    )
    leased, _ = await store.create(
        base.model_copy(
            update={
                "id": "tsk_000000000003aaaaaaaaaaaa",
                "status": TaskStatus.running,
                "owner": "live-worker",
                "lease_expires_at": now() + 60,
            }
        )
    )
    watched = [0.0]
    worker = watching_worker(rt, watched)
    assert await worker.reconcile() == 1  # the unclaimed task; the leases are live until seen unchanged
    watched[0] += 31  # a whole lease (30 s) later, on this worker's clock: the live owner renewed meanwhile
    await store.put(leased.model_copy(update={"lease_expires_at": now() + 60}))
    assert await worker.reconcile() == 1  # the dead worker's task
    await worker.join()
    assert (await store.get(orphan.id)).status == TaskStatus.succeeded
    assert (await store.get(expired.id)).status == TaskStatus.succeeded
    still = await store.get(leased.id)
    assert still.status == TaskStatus.running and still.owner == "live-worker"


async def test_a_resumed_task_polls_its_checkpointed_job(tmp_path: Path, kling: Vendor) -> None:
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, workers={"queued_grace_s": 0})
    first = await rt.service.get((await submit(rt)).id, wait=10)
    assert first.status == TaskStatus.succeeded and len(kling.state.jobs) == 1
    # a crash after the checkpoint: the task is running, its vendor job known, its owner gone
    store = rt.service.store
    crashed, _ = await store.create(
        first.model_copy(
            update={
                "id": "tsk_000000000009aaaaaaaaaaaa",
                "status": TaskStatus.running,
                "result": None,
                "owner": "gone",
                "lease_expires_at": now() - 3600,
                "version": 0,
            }
        )
    )
    watched = [0.0]
    worker = watching_worker(rt, watched)
    assert await worker.reconcile() == 0  # seen once; adopted when it has not changed for a lease
    watched[0] += 31
    assert await worker.reconcile() == 1
    await asyncio.wait_for(worker.join(), 10)
    resumed = await store.get(crashed.id)
    assert resumed.status == TaskStatus.succeeded and resumed.provider_task_id == first.provider_task_id
    assert len(kling.state.jobs) == 1  # polled, not submitted again


async def test_leases_do_not_trust_the_clocks_of_other_workers(tmp_path: Path, kling: Vendor) -> None:
    """A live owner whose clock is 10 minutes slow keeps its lease while it renews (the task's version moves);
    a lease nobody renews is adopted after ``lease_ttl_s`` as this worker watched it, whatever its stamp says."""
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, workers={"lease_ttl_s": 30})
    store = rt.service.store
    watched = [1000.0]
    worker = watching_worker(rt, watched)
    skewed = now() - 600  # the owner's clock is 10 minutes behind ours
    task, _ = await store.create(
        Task(
            id="tsk_00000000000aaaaaaaaaaaaa",
            provider="kling",
            task_type="text-to-video",
            status=TaskStatus.running,
            params=VIDEO,
            created_at=now(),
            deadline_at=now() + 600,
            owner="slow-clock-worker",
            lease_expires_at=skewed + 30,
        )
    )
    assert await worker.reconcile() == 0  # first sight: the lease is live until it stops changing
    for _ in range(3):  # the owner renews every lease_ttl_s / 3, on its own (slow) clock
        watched[0] += 10
        task = await store.put(task.model_copy(update={"lease_expires_at": skewed + watched[0] - 1000 + 30}))
        assert await worker.reconcile() == 0
    watched[0] += 29  # no renewal for just under a lease
    assert await worker.reconcile() == 0
    watched[0] += 2  # ... and now for a whole lease: the owner is gone
    assert await worker.reconcile() == 1
    await asyncio.wait_for(worker.join(), 30)
    adopted = await store.get(task.id)
    assert adopted.status == TaskStatus.succeeded and adopted.owner is None
