"""Dispatchers: how the ingress hands a stored task to the worker that will own it.

``PoolDispatcher`` sends to ProviderWorker actors (fire-and-forget ``submit.remote``: the call is queued at
once; if it is lost, a worker's reconcile adopts the task). ``LocalDispatcher`` calls in-process
``TaskWorker``s (single-process use and tests). A task goes to ``pool[hash(id) % size]``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from genpulse.schemas import Task
from genpulse.worker import TaskWorker


def pick(items: Sequence[Any], task_id: str) -> Any:
    return items[zlib.crc32(task_id.encode()) % len(items)]


class LocalDispatcher:
    def __init__(self, workers: dict[str, Sequence[TaskWorker]]) -> None:
        self.workers = workers

    async def dispatch(self, task: Task) -> None:
        await pick(self.workers[task.provider], task.id).submit(task.id)

    async def cancel(self, task: Task) -> None:
        for worker in self.workers.get(task.provider, ()):
            await worker.cancel(task.id)


class PoolDispatcher:
    """Actor handles of each provider's ProviderWorker pool."""

    def __init__(self, pools: dict[str, Sequence[Any]]) -> None:
        self.pools = pools

    async def dispatch(self, task: Task) -> None:
        pick(self.pools[task.provider], task.id).submit.remote(task.id)

    async def cancel(self, task: Task) -> None:
        for actor in self.pools.get(task.provider, ()):
            actor.cancel.remote(task.id)

    async def ping(self) -> None:
        for pool in self.pools.values():
            for actor in pool:
                await actor.ping.remote()
