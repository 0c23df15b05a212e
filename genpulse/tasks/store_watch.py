"""StoreWatch: the readiness check of the task store, which also makes a store that lost its data visible.

A store that restarts empty (the actor store's actor restarted; a Redis without persistence restarted or was
flushed) answers pings like a healthy one. Its ``epoch`` tells: the watch remembers the first epoch it saw, and
when the store shows another one, the check fails for ``alert_s`` seconds with a reason saying so, then accepts
the new store (the process keeps serving new tasks; the old ones are gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from genpulse.core.errors import ServiceUnavailable
from genpulse.tasks.store import TaskStore

LOST = "the task store lost its data (restarted empty)"


class StoreWatch:
    def __init__(self, store: TaskStore, alert_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self._alert_s, self._clock = store, alert_s, clock
        self._epoch: str | None = None
        self._lost_at: float | None = None

    async def check(self) -> None:
        """Raise ``ServiceUnavailable`` while the store is down, or for a while after it lost its data."""
        await self.store.ping()
        epoch = await self.store.epoch()
        now = self._clock()
        if self._epoch is None:
            self._epoch = epoch
        elif epoch != self._epoch:
            self._epoch, self._lost_at = epoch, now
        if self._lost_at is not None and now - self._lost_at < self._alert_s:
            ago = now - self._lost_at
            raise ServiceUnavailable(
                f"{LOST} {ago:.0f} s ago: tasks accepted before are gone, and workers stop and cancel their "
                "vendor jobs; use a durable store (Redis with AOF)",
                retry_after=5,
            )
