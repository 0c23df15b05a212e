"""What the store knows about work not yet done: non-terminal tasks per provider and the oldest queued one.

``open_task_stats`` walks the queued and running tasks (at most ``MAX_COUNTED`` per status, so a scrape stays
bounded); a store that cannot be read gives ``up=False`` and empty counts. ``/metrics`` renders it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from genpulse.core.schemas import TaskStatus
from genpulse.tasks.store import TaskStore

MAX_COUNTED = 100_000  # per status: a scrape never walks more than this


@dataclass
class QueueStats:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (provider, status) -> tasks
    oldest_queued_s: dict[str, float] = field(default_factory=dict)
    up: bool = True


async def open_task_stats(store: TaskStore) -> QueueStats:
    stats = QueueStats()
    now = time.time()
    try:
        for status in (TaskStatus.queued, TaskStatus.running):
            cursor, seen = None, 0
            while seen < MAX_COUNTED:
                tasks, cursor = await store.list(status=status, limit=200, cursor=cursor)
                seen += len(tasks)
                for t in tasks:
                    stats.counts[(t.provider, status.value)] += 1
                    if status == TaskStatus.queued:
                        age = now - t.created_at
                        stats.oldest_queued_s[t.provider] = max(stats.oldest_queued_s.get(t.provider, 0.0), age)
                if cursor is None:
                    break
    except Exception:
        return QueueStats(up=False)
    return stats
