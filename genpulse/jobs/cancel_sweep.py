"""Cancels owed to vendors: tasks a user canceled while the worker that owned them could not hear it.

A user's cancel writes the task ``canceled`` and leaves its ``owner`` on the record (``jobs/service.py``). The
owner, told of the cancel, stops the job; its runner cancels the vendor job, and the owner then *releases* the
record (``owner`` → None, the one write a terminal record takes: ``tasks.store.is_release``). When the owner was
down (its actor restarting, its node lost, its pool shrunk by a redeploy), nobody was told, and the record
stays canceled with an owner. ``CancelSweep`` finds those among its provider's canceled tasks and cancels their
vendor jobs:

- this worker's own (its vendor cancel got no sure answer) or an earlier run's (the same name before ``#``):
  at once, at the next sweep (the first one after a restart runs at once);
- any other owner: once this worker has seen the record unchanged with that owner for ``lease_ttl_s`` on its own
  monotonic clock (a live owner releases it within moments; clocks of other machines are never compared).

A cancel the vendor answered (done, no such job, too late to cancel) releases the record; one whose outcome is
unsure (no answer, 5xx, rate limited) stays owed and is tried again at the next sweep. Sweeps run at a
worker's first reconcile and every ``workers.cancel_sweep_s`` after, paging through the canceled tasks the store
keeps (``store.retention_s``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from genpulse.core.errors import Conflict, GenPulseError, NotFound
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks import TaskStore, mutate

log = logging.getLogger("genpulse.jobs.cancel_sweep")

PAGE = 200


class SweepingWorker(Protocol):
    name: str
    incarnation: str
    provider: str
    store: TaskStore

    def in_flight(self) -> list[str]: ...

    def _mine(self, owner: str | None) -> bool: ...


async def release(store: TaskStore, task_id: str, owner: str) -> bool:
    """Write that the canceled task's vendor job is no longer owed a cancel by ``owner``."""

    def let_go(t: Task) -> Task | None:
        if t.status != TaskStatus.canceled or t.owner != owner:
            return None
        t.owner = None
        return t

    try:
        return await mutate(store, task_id, let_go) is not None
    except (Conflict, NotFound):
        return False


class CancelSweep:
    def __init__(
        self,
        worker: SweepingWorker,
        cancel_job: Callable[[Task], Awaitable[bool]],
        *,
        every_s: float,
        lease_ttl_s: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._worker, self._cancel_job = worker, cancel_job
        self._every_s, self._lease_ttl_s, self._monotonic = every_s, lease_ttl_s, monotonic
        self._last: float | None = None
        # Another owner's owed cancel, as this worker saw it: (owner, version) and when first seen, on our clock.
        self._seen: dict[str, tuple[tuple[str, int], float]] = {}

    async def maybe_run(self) -> int:
        """Sweep if none ran yet or the last one is ``every_s`` old; returns the vendor jobs cancelled."""
        mono = self._monotonic()
        if self._last is not None and mono - self._last < self._every_s:
            return 0
        self._last = mono
        return await self.run()

    async def run(self) -> int:
        w, cancelled, seen, cursor = self._worker, 0, set(), None
        while True:
            tasks, cursor = await w.store.list(
                status=TaskStatus.canceled, provider=w.provider, limit=PAGE, cursor=cursor
            )
            busy = set(w.in_flight())
            for t in tasks:
                if t.owner is None or t.id in busy:
                    continue  # nothing owed, or this worker's cancel of it still under way
                seen.add(t.id)
                if self._due(t) and await self.carry_out(t):
                    cancelled += 1
            if cursor is None:
                break
        for gone in self._seen.keys() - seen:
            del self._seen[gone]
        return cancelled

    def _due(self, t: Task) -> bool:
        if self._worker._mine(t.owner):
            return True  # this worker's own (its cancel got no sure answer) or an earlier run's (not coming back)
        mono, mark = self._monotonic(), (t.owner or "", t.version)
        first = self._seen.get(t.id)
        if first is None or first[0] != mark:
            self._seen[t.id] = (mark, mono)
            return False
        return mono - first[1] >= self._lease_ttl_s

    async def carry_out(self, t: Task) -> bool:
        """Cancel ``t``'s vendor job; release the record unless the outcome is unsure. Returns whether a vendor
        job was cancelled."""
        try:
            cancelled = await self._cancel_job(t)
        except GenPulseError as exc:
            if exc.retryable:  # no answer, 5xx, rate limited: still owed, next sweep
                log.warning("task %s: vendor cancel unsure (%s); tried again later", t.id, exc.type)
                return False
            cancelled = False  # the vendor answered: the job is done, unknown, or past cancelling
        except Exception:
            log.warning("task %s: vendor cancel failed; tried again later", t.id, exc_info=True)
            return False
        with contextlib.suppress(Exception):
            await release(self._worker.store, t.id, t.owner or "")
        self._seen.pop(t.id, None)
        if cancelled:
            log.info("task %s: canceled while its worker %s was down; vendor job cancelled", t.id, t.owner)
        return cancelled
