"""The memory store reads indexes: listing the few queued tasks costs the same beside thousands of finished ones
(``/metrics`` and every worker's reconcile loop list queued and running tasks on each round)."""

from __future__ import annotations

import time

from genpulse.core.schemas import TaskStatus
from genpulse.tasks.memory_store import MemoryTaskStore
from tests.support.tasks import make


async def _list_cost(store: MemoryTaskStore) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(40):
            page, _ = await store.list(status=TaskStatus.queued, limit=200)
            assert len(page) == 3
        best = min(best, time.perf_counter() - started)
    return best


async def test_listing_by_status_does_not_walk_every_stored_task() -> None:
    store = MemoryTaskStore()
    for _ in range(3):
        await store.create(make())
    alone = await _list_cost(store)
    for _ in range(3000):
        task, _ = await store.create(make())
        await store.put(task.model_copy(update={"status": TaskStatus.succeeded}))
    beside_many = await _list_cost(store)
    assert beside_many < 10 * alone, (alone, beside_many)  # a full scan is ~50x slower here
