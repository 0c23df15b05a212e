"""In-process wiring: the whole service (store, storage, providers, workers, limiters) in one event loop.

The cluster wiring lives in ``deployments/``; this is the same graph without Ray, for tests, tools and
single-process use. Local diffusion loads the configured pipeline in-process on first use (in a thread).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from genpulse.config import AppArgs
from genpulse.dispatch import LocalDispatcher
from genpulse.providers import Registry
from genpulse.providers.cloud import CloudProvider
from genpulse.ratelimit import RateLimiter
from genpulse.runners import Generate
from genpulse.runtime import build_runner
from genpulse.service import TaskService
from genpulse.storage import open_storage
from genpulse.tasks import TaskStore
from genpulse.tasks.memory import MemoryTaskStore
from genpulse.worker import TaskWorker


@dataclass
class LocalRuntime:
    service: TaskService
    workers: dict[str, list[TaskWorker]]
    limiters: dict[str, RateLimiter]


def lazy_engine_generate(args: AppArgs) -> Generate:
    """A ``generate`` that builds a DiffusionEngine on first call and runs it in a thread."""
    engine: list[Any] = []
    lock = asyncio.Lock()

    async def generate(params: dict[str, Any]) -> dict[str, Any]:
        async with lock:
            if not engine:
                from genpulse.diffusion.engine import DiffusionEngine

                engine.append(await asyncio.to_thread(DiffusionEngine, args.diffusion))
        return await asyncio.to_thread(engine[0].generate, params)

    return generate


def build_local(args: AppArgs, *, store: TaskStore | None = None, generate: Generate | None = None) -> LocalRuntime:
    store = store or MemoryTaskStore(args.store.event_history)
    storage = open_storage(args.storage)
    registry = Registry(args)
    limiters: dict[str, RateLimiter] = {}
    workers: dict[str, list[TaskWorker]] = {}
    for provider in registry.all():
        if isinstance(provider, CloudProvider):
            cfg = provider.config
            limiters[provider.name] = RateLimiter(cfg.rps, cfg.max_concurrent_jobs)
            runner = build_runner(provider, args, storage, limiter=limiters[provider.name])
        else:  # local diffusion, or a pipeline (whose steps are tasks of this same service)
            gen = generate or lazy_engine_generate(args)
            runner = build_runner(provider, args, storage, generate=gen, service=lambda: service)
        workers[provider.name] = [
            TaskWorker(f"local-{provider.name}-{i}", provider.name, store, storage, runner, args.workers)
            for i in range(args.workers.pool_size)
        ]

    async def storage_ready() -> None:
        storage.ping()

    service = TaskService(
        args, store, storage, registry, LocalDispatcher(workers), checks={"store": store.ping, "storage": storage_ready}
    )
    return LocalRuntime(service, workers, limiters)
