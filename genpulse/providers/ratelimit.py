"""RateLimiter: one vendor's quota, cluster-wide (wrapped as one named detached actor per provider).

- Requests per second (submits and polls both count) are paced ``1/rps`` apart and, on top, capped by a
  sliding-window log: in any window of ``max(1, 1/rps)`` seconds (plus a small guard for network jitter) at most
  ``rps`` times that many calls. Pacing keeps bursts (and their arrival jitter) from crowding one window.
- A semaphore of concurrent vendor jobs, held per task id from submit until the job ends. Holding is keyed by
  task id, so a resumed task (worker restart) re-acquires its own slot instead of a second one.
- Waiters are served in order, ``high`` before ``normal`` before ``low``, FIFO within a priority.
- On a vendor 429 the rate drops (multiplicatively, to at least ``min_rps``) and for ``retry_after`` nobody is
  admitted; it then recovers additively towards the configured rate.
- ``configure`` changes the limits at run time; waiters are re-evaluated at once.

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


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)
    key: str = field(compare=False, default="")


class _PriorityQueue:
    def __init__(self) -> None:
        self._heap: list[_Waiter] = []
        self._seq = itertools.count()

    def push(self, priority: str, key: str = "") -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, _Waiter(PRIORITY.get(priority, 1), next(self._seq), fut, key))
        return fut

    def head(self) -> _Waiter | None:
        while self._heap and self._heap[0].future.done():  # drop cancelled waiters
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    def pop(self) -> None:
        heapq.heappop(self._heap)

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
    ) -> None:
        self._clock = clock
        self._requests = _PriorityQueue()
        self._jobs = _PriorityQueue()
        self._held: dict[str, float] = {}
        self._grants: deque[float] = deque()
        self._next_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.guard = guard
        self.throttled_429 = 0
        self.waited_s = 0.0
        self._last = clock()
        self._paused_until = 0.0
        self.target_rps = self.rate = self.recovery = self.min_rps = 0.0
        self.max_jobs = 0
        self.configure(rps, max_concurrent_jobs, min_rps, recovery_per_s)

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

    def _wake(self) -> None:
        """Admit every waiter that can go now; schedule the next check for the first that cannot."""
        self._recover()
        now = self._clock()
        while (head := self._jobs.head()) is not None and len(self._held) < self.max_jobs:
            self._jobs.pop()
            self._held[head.key] = now
            head.future.set_result(None)
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

    async def acquire_job(self, task_id: str, priority: str = "normal") -> float:
        """Wait for a job slot for ``task_id`` (immediate if it already holds one)."""
        if task_id in self._held:
            return 0.0
        started = self._clock()
        fut = self._jobs.push(priority, task_id)
        self._wake()
        await fut
        return self._clock() - started

    async def release_job(self, task_id: str) -> None:
        if self._held.pop(task_id, None) is not None:
            self._wake()

    async def report_429(self, retry_after: float | None = None) -> None:
        self.throttled_429 += 1
        self._recover()
        self.rate = max(self.min_rps, self.rate / 2)
        self._paused_until = max(self._paused_until, self._clock() + (retry_after or 1.0 / self.rate))
        self._wake()

    async def stats(self) -> dict[str, Any]:
        self._recover()
        return {
            "rps": self.target_rps,
            "current_rps": round(self.rate, 3),
            "max_concurrent_jobs": self.max_jobs,
            "jobs_held": len(self._held),
            "waiting_requests": len(self._requests),
            "waiting_jobs": len(self._jobs),
            "throttled_429": self.throttled_429,
            "waited_s": round(self.waited_s, 3),
        }
