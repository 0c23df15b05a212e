"""ProviderWorker: a named, detached, restartable actor around ``genpulse.jobs.task_worker.TaskWorker``.

A pool of them per provider (``workers.pool_size``) owns that provider's tasks to the end. They outlive the
HTTP request, the ingress replica and app redeploys. On (re)start each runs a reconcile loop that adopts its
own leased tasks and any orphans, so a crash loses no task. ``num_cpus=0``: they wait on I/O. Each builds
its process's ``Wiring`` with the Ray environment and takes its provider's runner from it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from deployments.cluster import RayEnvironment
from deployments.versions import fingerprint, replace_stale
from genpulse.core import gc_tuning
from genpulse.core.config import AppArgs
from genpulse.core.schemas import Task
from genpulse.jobs.failover import Handoff
from genpulse.jobs.task_worker import TaskWorker
from genpulse.wiring import Wiring

log = logging.getLogger("genpulse.worker")


def actor_name(provider: str, index: int) -> str:
    return f"genpulse-worker-{provider}-{index}"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=10_000)
class ProviderWorker:
    def __init__(self, name: str, provider: str, args: AppArgs, app_name: str, deploy: str = "") -> None:
        self._deploy = deploy
        wiring = Wiring(args, RayEnvironment(args, app_name, start_pool))
        self.worker = TaskWorker(name, provider, wiring.store, wiring.storage, wiring.runner(provider), args.workers)
        # a task failed over to another provider goes to that provider's pool (the dispatcher is made on first use)
        self.worker.handoff = Handoff(frozenset(wiring.registry.names()), lambda task: wiring.dispatcher.dispatch(task))
        self._interval = args.workers.reconcile_interval_s
        self._loop: asyncio.Task[None] | None = None
        self._ensure_loop()
        gc_tuning.tune()

    def _ensure_loop(self) -> None:
        if self._loop is None or self._loop.done():
            self._loop = asyncio.get_event_loop().create_task(self._reconcile_forever())

    async def _reconcile_forever(self) -> None:
        while True:
            try:
                await self.worker.reconcile()
            except Exception:
                log.warning("reconcile failed", exc_info=True)
            await asyncio.sleep(self._interval)

    async def submit(self, task_id: str, known: Task | None = None) -> bool:
        self._ensure_loop()
        return await self.worker.submit(task_id, known)

    async def cancel(self, task_id: str) -> bool:
        return await self.worker.cancel(task_id)

    async def wake(self, task_id: str) -> bool:
        return self.worker.wake(task_id)

    async def ping(self) -> dict[str, Any]:
        self._ensure_loop()
        return {"name": self.worker.name, "in_flight": len(self.worker.in_flight()), "deploy": self._deploy}

    def fingerprint(self) -> str:
        """The deploy this worker was made by (``deployments.versions``)."""
        return self._deploy


def start_pool(provider: str, args: AppArgs, app_name: str) -> list[Any]:
    """Get or create the provider's worker actors (idempotent across ingress replicas)."""
    return [_get_or_create(provider, i, args, app_name) for i in range(args.workers.pool_size)]


def deploy_pool(provider: str, args: AppArgs, app_name: str) -> list[Any]:
    """``start_pool`` for a new deploy: workers of an earlier deploy are replaced (their tasks are adopted)."""
    wanted = fingerprint(args)
    return [
        replace_stale(
            actor_name(provider, i), args.namespace, wanted, lambda i=i: _get_or_create(provider, i, args, app_name)
        )
        for i in range(args.workers.pool_size)
    ]


def _get_or_create(provider: str, index: int, args: AppArgs, app_name: str) -> Any:
    name = actor_name(provider, index)
    return ProviderWorker.options(
        name=name,
        namespace=args.namespace,
        lifetime="detached",
        get_if_exists=True,
        **args.placement.for_workers(provider).actor_options(),
    ).remote(name, provider, args, app_name, fingerprint(args))
