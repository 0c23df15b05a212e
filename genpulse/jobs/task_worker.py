"""TaskWorker: owns tasks of one provider from lease to terminal state.

The ProviderWorker actor (``deployments/worker_actor.py``) is a thin shell around it; tests drive it directly.
For each task: lease it in the store (CAS: ``queued -> running``, owner, lease expiry, attempts + 1) → run the
provider's runner under the task's deadline while renewing the lease → write the terminal state. Retryable
errors go back to ``queued`` with exponential backoff and jitter until ``max_attempts``; the rest fail at once.
``reconcile`` adopts orphans: queued tasks nobody claimed within the grace period and running tasks whose
owner's lease expired (or whose owner is this worker, after a restart). Every decision is a CAS, so any
number of workers can race for the same task and exactly one wins. A task whose record vanished (the store
lost its data) is found at the next lease renewal: its job is cancelled, and with it the vendor job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from genpulse.core import metrics
from genpulse.core.config import WorkersConfig
from genpulse.core.errors import Conflict, ExecutionError, GenPulseError, NotFound, ProviderTimeout
from genpulse.core.schemas import Task, TaskError, TaskStatus
from genpulse.jobs.cancel_sweep import CancelSweep, release
from genpulse.jobs.failover import Handoff, fail_over, fails_over
from genpulse.jobs.runners import LeaseLost, Runner
from genpulse.media.storage import Storage
from genpulse.media.storage.owned import OwnedStorage
from genpulse.tasks import TaskStore, mutate

log = logging.getLogger("genpulse.jobs.task_worker")


class _Context:
    def __init__(self, worker: TaskWorker, task: Task) -> None:
        self.storage: Storage = OwnedStorage(worker.storage, task.tenant_id)  # outputs belong to the task's tenant
        self.owner, self.abandoned, self.cancel_owed = worker.name, False, False
        self.slot_owner = worker.incarnation
        task_id = task.id
        self._worker, self._id = worker, task_id

    async def progress(self, value: float) -> None:
        await self._worker._owned_update(self._id, lambda t: setattr(t, "progress", max(0.0, min(100.0, value))))

    async def submitting(self) -> None:
        def mark(t: Task) -> None:
            t.submit_pending, t.submit_pending_at = True, self._worker._clock()

        await self._worker._owned_update(self._id, mark)

    async def checkpoint(self, provider_task_id: str | None) -> None:
        def record(t: Task) -> None:
            t.provider_task_id, t.submit_pending, t.submit_pending_at = provider_task_id, False, None

        await self._worker._owned_update(self._id, record)


class TaskWorker:
    handoff: Handoff | None = None  # set by the host's wiring; None: a refused task is not failed over from here

    def __init__(
        self,
        name: str,
        provider: str,
        store: TaskStore,
        storage: Storage,
        runner: Runner,
        config: WorkersConfig,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.provider = name, provider
        # This process's run of the worker, the owner it writes on its leases: a restarted or redeployed worker
        # keeps its name and adopts an earlier run's tasks at once, and its claim fences that run off (should it
        # still be alive, its next write is refused: LeaseLost) and withdraws the run's limiter waits.
        self.incarnation = f"{name}#{os.urandom(4).hex()}"
        self.store, self.storage, self.runner, self.config = store, storage, runner, config
        self._clock, self._rng, self._monotonic = clock, rng, monotonic
        # Another owner's lease, as this worker saw it: (task version, when first seen unchanged, on our clock).
        self._seen: dict[str, tuple[int, float]] = {}
        self._jobs: dict[str, asyncio.Task[None]] = {}
        # Each job's task as this worker last wrote it: its next write needs no read first (``mutate``'s ``known``).
        self._known: dict[str, Task] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._spawned: set[asyncio.Task[bool]] = set()
        self._cancels = CancelSweep(
            self,
            runner.cancel_job,
            every_s=config.cancel_sweep_s,
            lease_ttl_s=config.lease_ttl_s,
            monotonic=monotonic,
        )

    def in_flight(self) -> list[str]:
        return sorted(self._jobs)

    def wake(self, task_id: str) -> bool:
        """A vendor callback for ``task_id``: if this worker drives it, its runner polls the vendor job now (or as
        soon as its poll loop starts). True when a poll loop was woken now (callers send wakes and move on)."""
        return task_id in self._jobs and self.runner.wake(task_id)

    async def submit(self, task_id: str, known: Task | None = None) -> bool:
        """Start driving ``task_id`` unless this worker already is. Returns whether a job was started. ``known``:
        the task as its sender just wrote it (the ingress that created it), so the claim needs no read first."""
        if task_id in self._jobs:
            return False
        job = asyncio.create_task(self._drive(task_id, known), name=f"task:{task_id}")
        self._jobs[task_id] = job
        job.add_done_callback(lambda _: self._job_done(task_id))
        self._gauge_in_flight()
        return True

    def _job_done(self, task_id: str) -> None:
        self._jobs.pop(task_id, None)
        self._known.pop(task_id, None)
        self._gauge_in_flight()

    def _gauge_in_flight(self) -> None:
        metrics.JOBS_IN_FLIGHT.record(len(self._jobs), provider=self.provider, worker=self.name)

    async def cancel(self, task_id: str) -> bool:
        """Stop driving ``task_id`` (its runner cancels the vendor job). A task canceled while this worker was
        down (restarted since: the task is not among its jobs) still has its vendor job cancelled here; one whose
        cancel never reached this worker is found by the cancel sweep (``jobs/cancel_sweep.py``)."""
        job = self._jobs.get(task_id)
        if job is not None:
            job.cancel()
            return True
        try:
            task = await self.store.get(task_id)
        except Exception:  # gone, or the store is down: nothing of ours to stop
            return False
        if task.status != TaskStatus.canceled or not self._mine(task.owner):
            return False
        return await self._cancels.carry_out(task)

    async def join(self) -> None:
        """Wait for every job in flight (tests and graceful shutdown)."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs.values()), return_exceptions=True)

    async def reconcile(self) -> int:
        """Adopt orphaned tasks of this provider; returns how many were started."""
        started = queued = 0
        now = self._clock()
        seen = set()
        for status in (TaskStatus.queued, TaskStatus.running):
            cursor = None
            while True:
                tasks, cursor = await self.store.list(status=status, provider=self.provider, limit=200, cursor=cursor)
                queued += len(tasks) if status == TaskStatus.queued else 0
                for t in tasks:
                    seen.add(t.id)
                    if t.id not in self._jobs and self._orphaned(t, now) and await self.submit(t.id):
                        started += 1
                if cursor is None:
                    break
        for gone in self._seen.keys() - seen:  # ended or adopted: forget what we saw of its lease
            del self._seen[gone]
        metrics.QUEUE_DEPTH.record(queued, provider=self.provider, worker=self.name)
        try:
            await self._cancels.maybe_run()
        except Exception:  # a store blip: the next sweep tries again
            log.warning("%s: cancel sweep failed", self.name, exc_info=True)
        return started

    def _lease_live(self, t: Task, now: float) -> bool:
        """Whether another worker's lease on ``t`` still holds, without trusting that our clocks agree.

        A lease is over when its task has not changed for ``lease_ttl_s`` as *we* watched it, on our own monotonic
        clock: a live owner renews every ``lease_ttl_s / 3``, and every renewal is a new version. The owner's
        ``lease_expires_at`` stamp is never compared with our clock. A worker that just started therefore waits
        one lease before adopting another worker's task (its own tasks it adopts at once)."""
        if t.owner is None or self._mine(t.owner):
            return False
        mono = self._monotonic()
        version, since = self._seen.get(t.id, (-1, mono))
        if version != t.version:
            self._seen[t.id] = (t.version, mono)
            return True
        return mono - since < self.config.lease_ttl_s

    def _mine(self, owner: str | None) -> bool:
        """Whether ``owner`` is this worker: this run of it, or an earlier one (the same name before ``#``)."""
        return owner is not None and owner.split("#", 1)[0] == self.name

    def _orphaned(self, t: Task, now: float) -> bool:
        lease_live = self._lease_live(t, now)
        if self._mine(t.owner):
            return True  # ours (this run's or an earlier run's), but not in _jobs: we restarted
        if lease_live:
            return False
        if t.status == TaskStatus.queued:
            return (t.not_before or 0) <= now and (
                t.owner is not None or now - t.created_at >= self.config.queued_grace_s
            )
        return True  # running with an expired lease

    async def _drive(self, task_id: str, known: Task | None = None) -> None:
        try:
            await self._drive_once(task_id, known)
        except asyncio.CancelledError:
            raise
        except Exception:  # store or limiter outage: the lease expires and reconcile picks the task up again
            log.warning("task %s: worker could not drive it; left for reconcile", task_id, exc_info=True)

    async def _drive_once(self, task_id: str, known: Task | None = None) -> None:
        try:
            task = await mutate(self.store, task_id, self._claim, known=known)
        except (NotFound, Conflict):
            return
        if task is not None and task.status == TaskStatus.failed:  # its deadline passed while queued
            self._count(task)
        if task is None or task.status != TaskStatus.running:
            return
        self._known[task_id] = task
        ctx = _Context(self, task)
        renew = asyncio.create_task(self._renew(task_id, asyncio.current_task(), ctx))
        result: dict[str, Any] | None = None
        error: GenPulseError | None = None
        try:
            remaining = (task.deadline_at or float("inf")) - self._clock()
            result = await asyncio.wait_for(self.runner.run(task, ctx), timeout=remaining)
        except TimeoutError:
            error = ProviderTimeout("task deadline passed", retryable=False)
        except LeaseLost:
            return
        except asyncio.CancelledError:
            if not ctx.abandoned and not ctx.cancel_owed:  # its vendor job is cancelled: nothing owed any more
                self._spawn(release(self.store, task_id, self.incarnation))
            raise
        except GenPulseError as exc:
            error = exc
        except Exception as exc:  # a bug or an untranslated foreign error: fail the task, keep the worker
            log.exception("task %s: runner raised", task_id)
            error = ExecutionError(f"{type(exc).__name__}: {exc}")
        finally:
            renew.cancel()
        await self._settle(task, result, error)

    def _claim(self, t: Task) -> Task | None:
        now = self._clock()
        someone_elses = self._lease_live(t, now)
        if t.is_terminal or someone_elses:
            return None
        if t.not_before and t.not_before > now:
            self._later(t.id, t.not_before - now)
            return None
        if t.deadline_at is not None and now >= t.deadline_at:
            return _fail(t, ProviderTimeout("task deadline passed before it could run", retryable=False), now)
        t.status, t.owner, t.lease_expires_at = TaskStatus.running, self.incarnation, now + self.config.lease_ttl_s
        t.attempts += 1
        t.started_at = t.started_at or now
        t.not_before = None
        return t

    async def _settle(self, task: Task, result: dict[str, Any] | None, error: GenPulseError | None) -> None:
        """Write how the run ended: succeeded, failed, queued again for a retry, or (a refusal of a task with
        further routes: ``jobs/failover.py``) queued at its next route's provider, handed to that provider's pool."""
        now = self._clock()
        retry_in: float | None = None
        tried = task.attempts - (task.route_attempts[-1].attempts if task.route_attempts else 0)  # on this route
        if error is not None and error.retryable and tried < self.config.max_attempts:
            retry_in = self._backoff(tried, error.retry_after)
        failover = result is None and error is not None and fails_over(error)

        def finish(t: Task) -> Task | None:
            if t.is_terminal or t.owner != self.incarnation:
                return None
            made = t.provider_task_id is not None or t.submit_pending  # a vendor job exists, or may
            route = self._next_route(t) if failover and not made else None
            if result is not None:
                t.status, t.result, t.progress, t.finished_at = TaskStatus.succeeded, result, 100.0, now
                t.error = None
            elif route is not None and error is not None:
                return fail_over(t, route, error, now)
            elif retry_in is not None:
                t.status, t.not_before = TaskStatus.queued, now + retry_in
                t.error = TaskError.model_validate(error.to_dict()) if error else None
            else:
                _fail(t, error or ExecutionError("unknown failure"), now)
            t.owner = t.lease_expires_at = None
            return t

        try:
            written = await mutate(self.store, task.id, finish, known=self._known.pop(task.id, None))
        except (Conflict, NotFound):
            written = None
        if written is None and result is not None:  # canceled meanwhile: drop the outputs nobody will see
            for asset in result.get("assets", []):
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.storage.delete, asset["id"])
        if written is not None and written.provider != task.provider:
            await self._hand_off(written, task.provider)
            return
        if written is not None:
            self._count(written)
        if written is not None and retry_in is not None:
            self._later(task.id, retry_in)

    def _next_route(self, t: Task) -> str | None:
        return self.handoff.next_route(t) if self.handoff is not None else None

    async def _hand_off(self, t: Task, left: str) -> None:
        attempt = t.route_attempts[-1]
        log.info("task %s: %s refused it (%s); failed over to %s", t.id, left, attempt.error.type, t.provider)
        metrics.TASKS.record(1, provider=left, task_type=t.task_type, status="failed_over")
        try:
            assert self.handoff is not None  # _next_route found a route only with one
            await self.handoff.dispatch(t)
        except Exception:  # the task is queued in the store: the new provider's reconcile adopts it
            log.warning("task %s: hand-off to %s failed; left for reconcile", t.id, t.provider, exc_info=True)

    def _count(self, t: Task) -> None:
        status = "retrying" if t.status == TaskStatus.queued else t.status.value
        assets = (t.result or {}).get("assets", []) if t.status == TaskStatus.succeeded else []
        metrics.task_finished(t.provider, t.task_type, status, self._clock() - t.created_at, assets)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (attempt - 1))
        delay = cap / 2 + self._rng() * cap / 2  # equal jitter
        return max(delay, retry_after or 0.0)

    def _later(self, task_id: str, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._spawn(self.submit(task_id))

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    def _spawn(self, work: Coroutine[Any, Any, bool]) -> None:
        spawned = asyncio.get_running_loop().create_task(work)
        self._spawned.add(spawned)
        spawned.add_done_callback(self._spawned.discard)

    async def _renew(self, task_id: str, job: asyncio.Task[Any] | None, ctx: _Context) -> None:
        every = self.config.lease_ttl_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self._owned_update(
                    task_id, lambda t: setattr(t, "lease_expires_at", self._clock() + self.config.lease_ttl_s)
                )
            except NotFound:  # the record is gone (the store lost its data): nobody will finish or pay attention
                log.error("task %s: its record is gone from the store; stopping and cancelling its vendor job", task_id)
                ctx.abandoned = False  # so the runner cancels the vendor job
                if job is not None:
                    job.cancel()
                return
            except LeaseLost:
                ctx.abandoned = True  # taken over: the new owner polls the vendor job, so leave it alone ...
                with contextlib.suppress(Exception):  # ... unless a user canceled the task: then cancel the job
                    ctx.abandoned = (await self.store.get(task_id)).status != TaskStatus.canceled
                if job is not None:
                    job.cancel()
                return
            except Exception:  # store blip: keep the job, try again next round
                log.warning("task %s: lease renewal failed", task_id, exc_info=True)

    async def _owned_update(self, task_id: str, change: Callable[[Task], None]) -> Task:
        def apply(t: Task) -> Task | None:
            if t.is_terminal or t.owner != self.incarnation:  # an earlier run of ours, still alive, is fenced off
                return None
            change(t)
            return t

        try:
            written = await mutate(self.store, task_id, apply, known=self._known.get(task_id))
        except Conflict:
            written = None
        if written is None:
            self._known.pop(task_id, None)
            raise LeaseLost(task_id)
        if task_id in self._jobs:  # still driving it (a write after the job ended must not linger here)
            self._known[task_id] = written
        return written


def _fail(t: Task, error: GenPulseError, now: float) -> Task:
    t.status, t.finished_at = TaskStatus.failed, now
    t.error = TaskError.model_validate(error.to_dict())
    t.owner = t.lease_expires_at = None
    return t
