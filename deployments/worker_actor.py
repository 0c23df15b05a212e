"""ProviderWorker: a named, detached, restartable actor around ``genpulse.worker.TaskWorker``.

A pool of them per provider (``workers.pool_size``) owns that provider's tasks to the end. They outlive the
HTTP request, the ingress replica and app redeploys. On (re)start each runs a reconcile loop that adopts its
own leased tasks and any orphans, so a crash loses no task. ``num_cpus=0``: they wait on I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import ray
from ray import serve
from ray.exceptions import RayActorError

from deployments.limiter_actor import ActorLimiter, connect_limiter
from genpulse.config import AppArgs
from genpulse.dispatch import PoolDispatcher
from genpulse.errors import ServiceUnavailable
from genpulse.metrics import MeteredLimiter
from genpulse.providers import Registry
from genpulse.runners import Runner
from genpulse.runtime import build_runner
from genpulse.service import TaskService
from genpulse.storage import Storage, open_storage
from genpulse.tasks import open_store
from genpulse.worker import TaskWorker

log = logging.getLogger("genpulse.worker")


def actor_name(provider: str, index: int) -> str:
    return f"genpulse-worker-{provider}-{index}"


def make_runner(provider: str, args: AppArgs, app_name: str, storage: Storage) -> Runner:
    """The provider's runner, wired to this cluster: the app's DiffusionDeployment or the vendor's limiter actor."""
    spec = Registry(args).get(provider)
    if provider == "diffusers":
        handle = serve.get_deployment_handle("DiffusionDeployment", app_name)

        async def generate(params: dict[str, Any]) -> dict[str, Any]:
            try:
                return await handle.generate.remote(params)
            except RayActorError as exc:  # the replica died (its node went away): Serve replaces it, so retry
                raise ServiceUnavailable(f"diffusion replica lost: {type(exc).__name__}") from None

        return build_runner(spec, args, storage, generate=generate)
    if spec.kind == "pipeline":
        return build_runner(spec, args, storage, service=_step_service(args, app_name, storage))
    limiter = MeteredLimiter(ActorLimiter(connect_limiter(provider, args)), provider)
    return build_runner(spec, args, storage, limiter=limiter)


def _step_service(args: AppArgs, app_name: str, storage: Storage) -> Callable[[], TaskService]:
    """How a pipeline submits its steps: a TaskService over the other providers' pools, made on first use."""
    made: list[TaskService] = []

    def get() -> TaskService:
        if not made:
            registry = Registry(args)
            steps = [p.name for p in registry.all() if p.kind != "pipeline"]
            pools = {name: start_pool(name, args, app_name) for name in steps}
            store = open_store(args.store, args.namespace)
            made.append(TaskService(args, store, storage, registry, PoolDispatcher(pools)))
        return made[0]

    return get


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=10_000)
class ProviderWorker:
    def __init__(self, name: str, provider: str, args: AppArgs, app_name: str) -> None:
        storage = open_storage(args.storage)
        self.worker = TaskWorker(
            name,
            provider,
            open_store(args.store, args.namespace, args.placement.store.actor_options()),
            storage,
            make_runner(provider, args, app_name, storage),
            args.workers,
        )
        self._interval = args.workers.reconcile_interval_s
        self._loop: asyncio.Task[None] | None = None
        self._ensure_loop()

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

    async def submit(self, task_id: str) -> bool:
        self._ensure_loop()
        return await self.worker.submit(task_id)

    async def cancel(self, task_id: str) -> bool:
        return await self.worker.cancel(task_id)

    async def ping(self) -> dict[str, Any]:
        self._ensure_loop()
        return {"name": self.worker.name, "in_flight": len(self.worker.in_flight())}


def start_pool(provider: str, args: AppArgs, app_name: str) -> list[Any]:
    """Get or create the provider's worker actors (idempotent across ingress replicas)."""
    return [
        ProviderWorker.options(
            name=actor_name(provider, i),
            namespace=args.namespace,
            lifetime="detached",
            get_if_exists=True,
            **args.placement.for_workers(provider).actor_options(),
        ).remote(actor_name(provider, i), provider, args, app_name)
        for i in range(args.workers.pool_size)
    ]
