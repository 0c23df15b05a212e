"""JobSlot: one task's job slot at a vendor's limiter, held as a lease from acquire to release, however the task ends.

The limiter (``genpulse.providers.ratelimit.RateLimiter``, usually behind its Ray actor) leases each slot to an
owner for a TTL. ``JobSlot``:

- acquires the slot for ``(task_id, owner)``; if the acquiring coroutine is cancelled (the task was canceled, its
  deadline passed, another worker adopted it) or fails, it tells the limiter to drop the wait, in a shielded
  call: cancelling a Ray actor call does not stop it in the actor, so its waiter would otherwise stay queued and
  take a slot nobody releases. A slot granted just as the caller gave up is released by the same call;
- renews the lease every ``renew_every`` seconds (a third of the limiter's TTL); a renewal the limiter does not
  know (it restarted) registers the slot again, so running jobs keep counting against the vendor's limit;
- stops renewing once the limiter says another owner holds the slot (the task was adopted elsewhere), and then
  does not release it on exit: the new owner's slot is not ours to free.

Use ``async with JobSlot(...)``, or ``acquire()`` and ``release()`` (release in ``finally``).
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Protocol

from genpulse.providers.ratelimit import JOB_TTL_S

log = logging.getLogger("genpulse.job_slots")
SETTLE_S = 10.0  # at most this long for a release (or a renewal still in flight): an unreleased lease expires


class JobSlots(Protocol):
    """The job-slot half of ``genpulse.providers.vendor_runner.Limiter``."""

    async def acquire_job(self, task_id: str, priority: str = "normal", owner: str = "") -> float: ...

    async def renew_job(self, task_id: str, owner: str = "") -> bool: ...

    async def release_job(self, task_id: str, owner: str = "") -> None: ...


class JobSlot:
    def __init__(
        self,
        limiter: JobSlots,
        task_id: str,
        owner: str,
        priority: str = "normal",
        renew_every: float = JOB_TTL_S / 3,
    ) -> None:
        self.limiter, self.task_id, self.owner, self.priority = limiter, task_id, owner, priority
        self.renew_every = renew_every
        self.lost = False  # another owner holds the slot now
        self._renewing: asyncio.Task[None] | None = None
        self._renewal: asyncio.Future[bool] | None = None
        self._released = False

    async def acquire(self) -> float:
        """Wait for the slot (returns the seconds waited), then keep its lease renewed until ``release``."""
        try:
            waited = await self.limiter.acquire_job(self.task_id, self.priority, self.owner)
        except BaseException:  # cancelled or failed while waiting: leave no waiter, and no slot, behind
            await self._drop()
            raise
        self._renewing = asyncio.create_task(self._renew_forever(), name=f"job-slot:{self.task_id}")
        return waited

    async def release(self) -> None:
        """Stop renewing and free the slot, unless another owner holds it now. Only the first call does anything."""
        if self._released:
            return
        self._released = True
        renewing, self._renewing = self._renewing, None
        if renewing is not None:
            renewing.cancel()
            await asyncio.wait([renewing])
        if self._renewal is not None and not self._renewal.done():  # let it land before the release does
            await asyncio.wait([self._renewal], timeout=SETTLE_S)
        if not self.lost:
            await self._drop()

    async def __aenter__(self) -> JobSlot:
        await self.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.shield(self.release())

    async def _drop(self) -> None:
        """Release the slot or withdraw the wait; shielded (the caller may be cancelled) and bounded: a limiter that
        does not answer (restarting) gets it later, and a lease never released expires anyway."""
        try:
            await asyncio.wait_for(asyncio.shield(self.limiter.release_job(self.task_id, self.owner)), SETTLE_S)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("task %s: could not release its job slot; it expires after the TTL", self.task_id)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            self._renewal = asyncio.ensure_future(self.limiter.renew_job(self.task_id, self.owner))
            self._renewal.add_done_callback(_retrieve)  # its outcome may land after we stopped listening
            try:
                held = await asyncio.shield(self._renewal)
            except asyncio.CancelledError:
                raise
            except Exception:  # limiter blip: the lease outlives a few missed renewals
                log.warning("task %s: job slot renewal failed; will retry", self.task_id, exc_info=True)
                continue
            if not held:
                log.info("task %s: another owner holds its job slot now; %s stops renewing", self.task_id, self.owner)
                self.lost = True
                return


def _retrieve(future: asyncio.Future[bool]) -> None:
    if not future.cancelled():
        future.exception()
