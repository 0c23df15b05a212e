"""RateLimiter: one vendor's quota, cluster-wide (wrapped as one named detached actor per provider).

- Requests per second (submits and polls both count) are paced ``1/rps`` apart and, on top, capped by a
  sliding-window log: in any window of ``max(1, 1/rps)`` seconds (plus a small guard for network jitter) at most
  ``rps`` times that many calls. Pacing keeps bursts (and their arrival jitter) from crowding one window.
- A semaphore of concurrent vendor jobs. A slot is a lease: a task id, its owner (the worker driving it) and an
  expiry ``job_ttl_s`` ahead. Holders renew it (``genpulse.providers.job_slots.JobSlot``); one nobody renews (its
  worker died, its caller gave up after the grant) frees its slot when it expires. A renewal the limiter does not
  know (it restarted) re-registers the slot, over the limit if need be: running jobs are never stopped. Slots are
  keyed by task id, so a resumed task re-acquires its own slot, and a task adopted by another worker takes its slot
  along: the newest owner wins, the old one can neither renew nor release it. ``release_job`` also withdraws the
  owner's queued wait (a caller that gave up: cancelling a Ray actor call does not stop it in the actor).
- Waiters are served in order, ``high`` before ``normal`` before ``low``, FIFO within a priority.
- On a vendor 429 the rate drops (multiplicatively, to at least ``min_rps``) and for ``retry_after`` nobody is
  admitted; it then recovers additively towards the configured rate.
- ``configure`` changes the limits at run time; waiters are re-evaluated at once.
- ``report_out`` marks the vendor account out for a cooldown (it refused for an account reason, or could not be
  reached): ``stats`` shows ``out_reason`` and ``out_for_s`` until it ends, and model aliases route around it
  (``genpulse.providers.health``). Nothing is refused here: tasks already on this instance still run.

All methods run on one event loop (the actor's), so state changes are atomic between awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PRIORITY = {"high": 0, "normal": 1, "low": 2}
JOB_TTL_S = 60.0  # a job slot nobody renews for this long is free again
GRANTED, RELEASED, ADOPTED = "granted", "released", "adopted"  # how a wait for a job slot ends


class SlotWithdrawn(Exception):
    """A wait for a job slot ended without one: another owner acquired the task's slot (the task was adopted)."""


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[str] = field(compare=False)
    key: str = field(compare=False, default="")
    owner: str = field(compare=False, default="")


@dataclass
class _Lease:
    owner: str
    expires_at: float


class _PriorityQueue:
    def __init__(self) -> None:
        self._heap: list[_Waiter] = []
        self._seq = itertools.count()
        self._by_key: dict[str, list[_Waiter]] = {}

    def push(self, priority: str, key: str = "", owner: str = "") -> asyncio.Future[str]:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(PRIORITY.get(priority, 1), next(self._seq), fut, key, owner)
        heapq.heappush(self._heap, waiter)
        if key:
            self._by_key.setdefault(key, []).append(waiter)
        return fut

    def head(self) -> _Waiter | None:
        while self._heap and self._heap[0].future.done():  # drop cancelled and withdrawn waiters
            self._forget(heapq.heappop(self._heap))
        return self._heap[0] if self._heap else None

    def pop(self) -> None:
        self._forget(heapq.heappop(self._heap))

    def withdraw(self, key: str, owned: Callable[[str], bool], outcome: str) -> None:
        """End the waits for ``key`` whose owner matches ``owned`` with ``outcome`` (they get no slot)."""
        for waiter in self._by_key.get(key, []):
            if owned(waiter.owner) and not waiter.future.done():
                waiter.future.set_result(outcome)

    def _forget(self, waiter: _Waiter) -> None:
        same = self._by_key.get(waiter.key, [])
        if waiter in same:
            same.remove(waiter)
            if not same:
                del self._by_key[waiter.key]

    def __len__(self) -> int:
        return sum(1 for w in self._heap if not w.future.done())


class RateLimiter:
    def __init__(
        self,
        rps: float,
        max_concurrent_jobs: int,
        min_rps: float = 0.1,
        recovery_per_s: float | None = None,
        guard: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        job_ttl_s: float = JOB_TTL_S,
    ) -> None:
        self._clock = clock
        self._requests = _PriorityQueue()
        self._jobs = _PriorityQueue()
        self._held: dict[str, _Lease] = {}
        self.job_ttl_s = job_ttl_s
        self.jobs_expired = 0
        self._next_expiry = math.inf  # no lease expires before this (a lower bound)
        self._new_jobs_at = 0.0  # after a restart: no new slot before this, so running jobs re-register first
        self.was_restarted = False
        self._grants: deque[float] = deque()
        self._next_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._job_timer: asyncio.TimerHandle | None = None
        self.guard = guard
        self.throttled_429 = 0
        self.waited_s = 0.0
        self._last = clock()
        self._paused_until = 0.0
        self._out: tuple[str, float] | None = None  # (reason, until): the account is out for routing
        self.target_rps = self.rate = self.recovery = self.min_rps = 0.0
        self.max_jobs = 0
        self.configure(rps, max_concurrent_jobs, min_rps, recovery_per_s)
        if self._lost_state():
            self.restarted()

    def configure(
        self, rps: float, max_concurrent_jobs: int, min_rps: float = 0.1, recovery_per_s: float | None = None
    ) -> None:
        self.target_rps = self.rate = float(rps)
        self._next_at = 0.0  # pace from now on at the new rate
        self.max_jobs = int(max_concurrent_jobs)
        self.min_rps = min(min_rps, rps)
        self.recovery = recovery_per_s if recovery_per_s is not None else max(rps / 20, 0.05)
        with contextlib.suppress(RuntimeError):  # no running loop yet (construction): nobody waits
            self._wake()

    def _window(self) -> tuple[float, int]:
        """The sliding window (s) and the grants allowed in it: ``rate`` per second, measured over >= 1 s,
        stretched by ``guard`` so network jitter cannot squeeze two windows' worth into one at the vendor."""
        span = max(1.0, 1.0 / self.rate)
        return span * (1 + self.guard), max(1, math.floor(self.rate * span + 1e-9))

    def _recover(self) -> None:
        now = self._clock()
        elapsed = now - max(self._last, self._paused_until)  # no recovery while paused after a 429
        self._last = now
        if elapsed > 0:
            self.rate = min(self.target_rps, self.rate + self.recovery * elapsed)

    def _lost_state(self) -> bool:
        """Whether this limiter starts over after losing its state (the Ray actor says so when it restarts)."""
        return False

    def restarted(self) -> None:
        """This limiter lost its state: admit no new job for half a TTL, so the running jobs re-register their
        slots (their holders renew every third of a TTL) before new ones can take them."""
        self.was_restarted = True
        self._new_jobs_at = self._clock() + self.job_ttl_s / 2

    def _lease(self, key: str, owner: str, now: float) -> None:
        self._held[key] = _Lease(owner, now + self.job_ttl_s)
        self._next_expiry = min(self._next_expiry, now + self.job_ttl_s)

    def _expire(self, now: float) -> None:
        if now < self._next_expiry:
            return
        for key in [k for k, lease in self._held.items() if lease.expires_at <= now]:
            del self._held[key]
            self.jobs_expired += 1
        self._next_expiry = min((lease.expires_at for lease in self._held.values()), default=math.inf)

    def _admit_jobs(self, now: float) -> None:
        self._expire(now)
        while (head := self._jobs.head()) is not None:
            lease = self._held.get(head.key)
            if lease is not None:  # the task holds a slot already (its newest owner queued): the slot moves
                lease.owner, lease.expires_at = head.owner, now + self.job_ttl_s
            elif len(self._held) < self.max_jobs and now >= self._new_jobs_at:
                self._lease(head.key, head.owner, now)
            else:
                break
            self._jobs.pop()
            head.future.set_result(GRANTED)
        if self._job_timer is not None:
            self._job_timer.cancel()
            self._job_timer = None
        if self._jobs.head() is not None:  # look again when a lease may expire or the restart pause ends
            at = self._new_jobs_at if now < self._new_jobs_at else self._next_expiry
            if at < math.inf:
                self._job_timer = asyncio.get_running_loop().call_later(max(at - now, 0.001), self._wake)

    def _wake(self) -> None:
        """Admit every waiter that can go now; schedule the next check for the first that cannot."""
        self._recover()
        now = self._clock()
        self._admit_jobs(now)
        window, allowed = self._window()
        while self._grants and self._grants[0] <= now - window:
            self._grants.popleft()
        interval = 1.0 / self.rate
        while (
            (head := self._requests.head()) is not None
            and len(self._grants) < allowed
            and now >= max(self._paused_until, self._next_at)
        ):
            self._requests.pop()
            self._grants.append(now)
            self._next_at = now + interval  # paced: never two calls closer than 1/rate
            head.future.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._requests.head() is not None:
            free_at = self._grants[0] + window if len(self._grants) >= allowed else now
            wait = max(self._paused_until, self._next_at, free_at) - now
            self._timer = asyncio.get_running_loop().call_later(max(wait, 0.001), self._wake)

    async def acquire_request(self, priority: str = "normal") -> float:
        """Wait for one request token; returns the seconds waited."""
        started = self._clock()
        fut = self._requests.push(priority)
        self._wake()
        await fut
        waited = self._clock() - started
        self.waited_s += waited
        return waited

    async def acquire_job(self, task_id: str, priority: str = "normal", owner: str = "") -> float:
        """Wait for a job slot for ``task_id``, leased to ``owner`` for ``job_ttl_s``; returns the seconds waited.
        Immediate if the task holds one: its own (a resumed task) or its previous owner's (the task was adopted:
        the slot moves to ``owner``). A wait ``owner`` withdraws (``release_job``) returns without a slot; one a
        newer owner of the task overtakes raises ``SlotWithdrawn``."""
        started = self._clock()
        self._jobs.withdraw(task_id, lambda o: o != owner, ADOPTED)  # the task's newest owner wins
        self._expire(started)
        lease = self._held.get(task_id)
        if lease is not None:
            lease.owner, lease.expires_at = owner, started + self.job_ttl_s
            return 0.0
        fut = self._jobs.push(priority, task_id, owner)
        self._wake()
        if await fut == ADOPTED:
            raise SlotWithdrawn(f"task {task_id} was adopted by another owner while {owner!r} waited for its slot")
        return self._clock() - started

    async def renew_job(self, task_id: str, owner: str = "") -> bool:
        """Extend ``owner``'s lease on ``task_id``'s slot; False if another owner holds it (stop renewing). A lease
        this limiter does not know (it restarted, or the lease expired) is registered again, over the limit if
        need be: the job runs anyway."""
        now = self._clock()
        self._expire(now)
        lease = self._held.get(task_id)
        if lease is None:
            self._lease(task_id, owner, now)
            return True
        if lease.owner != owner:
            return False
        lease.expires_at = now + self.job_ttl_s
        return True

    async def release_job(self, task_id: str, owner: str = "") -> None:
        """Free ``owner``'s slot of ``task_id`` and withdraw its queued wait; another owner's slot is left alone."""
        self._jobs.withdraw(task_id, lambda o: o == owner, RELEASED)
        lease = self._held.get(task_id)
        if lease is not None and lease.owner == owner:
            del self._held[task_id]
            self._wake()

    async def leases(self) -> dict[str, dict[str, Any]]:
        """The held job slots: task id -> owner and seconds until the lease expires."""
        now = self._clock()
        self._expire(now)
        return {k: {"owner": v.owner, "expires_in": round(v.expires_at - now, 3)} for k, v in self._held.items()}

    async def report_429(self, retry_after: float | None = None) -> None:
        self.throttled_429 += 1
        self._recover()
        self.rate = max(self.min_rps, self.rate / 2)
        self._paused_until = max(self._paused_until, self._clock() + (retry_after or 1.0 / self.rate))
        self._wake()

    async def report_out(self, reason: str, cooldown_s: float) -> None:
        """Mark the account out for ``cooldown_s`` (``reason``: ``arrears``, ``credentials``, ``unreachable``); a
        later report extends the mark, never shortens it."""
        until = self._clock() + cooldown_s
        if self._out is None or until >= self._out[1]:
            self._out = (reason, until)

    def _out_now(self) -> tuple[str | None, float | None]:
        if self._out is None or self._out[1] <= self._clock():
            return None, None
        return self._out[0], round(self._out[1] - self._clock(), 3)

    async def stats(self) -> dict[str, Any]:
        self._wake()  # expired leases free their slots first
        out_reason, out_for_s = self._out_now()
        return {
            "rps": self.target_rps,
            "current_rps": round(self.rate, 3),
            "max_concurrent_jobs": self.max_jobs,
            "jobs_held": len(self._held),
            "jobs_expired": self.jobs_expired,
            "job_ttl_s": self.job_ttl_s,
            "restarted": self.was_restarted,
            "window_calls": len(self._grants),  # calls granted in the current sliding window
            "waiting_requests": len(self._requests),
            "waiting_jobs": len(self._jobs),
            "throttled_429": self.throttled_429,
            "waited_s": round(self.waited_s, 3),
            "out_reason": out_reason,  # set while the account is out for routing (``report_out``)
            "out_for_s": out_for_s,
        }
