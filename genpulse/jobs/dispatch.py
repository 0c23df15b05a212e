"""Dispatchers: how a stored task is handed to the worker that will own it.

``PoolDispatcher`` sends to ProviderWorker actors (fire-and-forget ``submit.remote``: the call is queued at
once; if it is lost, a worker's reconcile adopts the task); it gets each provider's pool on first use from
``connect`` and again on ``refresh`` (the ingress's supervision). ``LocalDispatcher`` calls in-process
``TaskWorker``s (single-process use and tests). A task goes to ``pool[hash(id) % size]``.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from genpulse.core.schemas import Task
from genpulse.jobs.system import WorkerStats, worker_stats
from genpulse.jobs.task_worker import TaskWorker


class Dispatcher(Protocol):
    """Hands tasks to the worker that will own them."""

    async def dispatch(self, task: Task) -> None: ...

    async def cancel(self, task: Task) -> None: ...

    async def wake(self, task: Task) -> None:
        """A vendor callback for ``task``: the worker driving it polls its vendor job now."""
        ...

    async def pool_stats(self) -> dict[str, list[WorkerStats]]:
        """Each provider's workers and the tasks each drives now (a worker that does not answer: its error)."""
        ...


def pick(items: Sequence[Any], task_id: str) -> Any:
    return items[zlib.crc32(task_id.encode()) % len(items)]


class LocalDispatcher:
    def __init__(self, workers: dict[str, Sequence[TaskWorker]]) -> None:
        self.workers = workers

    async def dispatch(self, task: Task) -> None:
        await pick(self.workers[task.provider], task.id).submit(task.id, task)

    async def cancel(self, task: Task) -> None:
        for worker in self.workers.get(task.provider, ()):
            await worker.cancel(task.id)

    async def wake(self, task: Task) -> None:
        for worker in self.workers.get(task.provider, ()):
            worker.wake(task.id)

    async def pool_stats(self) -> dict[str, list[WorkerStats]]:
        return {
            provider: [WorkerStats(name=w.name, in_flight=len(w.in_flight())) for w in workers]
            for provider, workers in self.workers.items()
        }


class PoolDispatcher:
    """Actor handles of each provider's ProviderWorker pool, got from ``connect(provider)`` when first needed."""

    def __init__(self, connect: Callable[[str], Sequence[Any]], providers: Sequence[str]) -> None:
        self._connect, self.providers = connect, list(providers)
        self.pools: dict[str, Sequence[Any]] = {}

    def pool(self, provider: str) -> Sequence[Any]:
        if provider not in self.pools:
            self.pools[provider] = self._connect(provider)
        return self.pools[provider]

    def refresh(self, connect: Callable[[str], Sequence[Any]] | None = None) -> None:
        """Get (or create again) every provider's pool: a worker that died for good comes back. ``connect``
        replaces the usual way for this once (a new deploy replaces the workers of an earlier one)."""
        for provider in self.providers:
            self.pools[provider] = (connect or self._connect)(provider)

    async def dispatch(self, task: Task) -> None:
        pick(self.pool(task.provider), task.id).submit.remote(task.id, task)  # the task: its claim needs no read

    async def cancel(self, task: Task) -> None:
        for actor in self.pool(task.provider):
            actor.cancel.remote(task.id)

    async def wake(self, task: Task) -> None:
        for actor in self.pool(task.provider):  # fire-and-forget, like cancel: only the driving worker acts
            actor.wake.remote(task.id)

    async def pool_stats(self) -> dict[str, list[WorkerStats]]:
        async def pool(provider: str) -> list[WorkerStats]:
            try:
                actors = self.pool(provider)
            except Exception as exc:  # the pool could not be got or made
                return [WorkerStats(name=provider, error=f"{type(exc).__name__}: {exc}"[:300])]
            return list(
                await asyncio.gather(*(worker_stats(f"{provider}[{i}]", a.ping.remote) for i, a in enumerate(actors)))
            )

        stats = await asyncio.gather(*(pool(p) for p in self.providers))
        return dict(zip(self.providers, stats, strict=True))

    async def ping(self) -> None:
        for provider in self.providers:
            for actor in self.pool(provider):
                await actor.ping.remote()
