"""The in-process host: the whole service (store, storage, providers, workers, limiters) in one event loop.

The cluster host lives in ``deployments/``; this is the same ``Wiring`` without Ray, for tests, tools and
single-process use. Local diffusion loads the configured pipeline in-process on first use (in a thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from genpulse.core.config import AppArgs
from genpulse.diffusion.diffusion_runner import lazy_engine_generate
from genpulse.jobs.dispatch import LocalDispatcher
from genpulse.jobs.failover import Handoff
from genpulse.jobs.runners import Generate
from genpulse.jobs.service import TaskService
from genpulse.jobs.task_worker import TaskWorker
from genpulse.providers.cloud import CloudProvider
from genpulse.providers.ratelimit import RateLimiter
from genpulse.tasks import TaskStore
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.wiring import Check, Wiring


@dataclass
class InProcessEnvironment:
    store: TaskStore | None = None
    generate: Generate | None = None
    workers: dict[str, list[TaskWorker]] = field(default_factory=dict)
    limiters: dict[str, RateLimiter] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic  # the limiters' (tests move it on: cooldowns, windows)

    def open_store(self, args: AppArgs) -> TaskStore:
        cfg = args.store
        return self.store or MemoryTaskStore(
            cfg.event_history, retention_s=cfg.retention_s, idempotency_ttl_s=cfg.idempotency_ttl_s
        )

    def dispatcher(self, wiring: Wiring) -> LocalDispatcher:
        return LocalDispatcher(self.workers)

    def limiter(self, provider: CloudProvider) -> RateLimiter:
        cfg = provider.config
        if provider.name not in self.limiters:
            self.limiters[provider.name] = RateLimiter(cfg.rps, cfg.max_concurrent_jobs, clock=self.clock)
        return self.limiters[provider.name]

    def diffusion(self) -> Generate:
        if self.generate is None:
            raise RuntimeError("InProcessEnvironment has no diffusion engine (build_local sets one)")
        return self.generate

    def checks(self, wiring: Wiring) -> dict[str, Check]:
        return {}


@dataclass
class LocalRuntime:
    service: TaskService
    workers: dict[str, list[TaskWorker]]
    limiters: dict[str, RateLimiter]
    wiring: Wiring


def build_local(
    args: AppArgs,
    *,
    store: TaskStore | None = None,
    generate: Generate | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LocalRuntime:
    env = InProcessEnvironment(store=store, generate=generate or lazy_engine_generate(args.diffusion), clock=clock)
    wiring = Wiring(args, env)
    handoff = Handoff(frozenset(wiring.registry.names()), lambda task: wiring.dispatcher.dispatch(task))
    for name in wiring.registry.names():
        runner = wiring.runner(name)
        env.workers[name] = [
            TaskWorker(f"local-{name}-{i}", name, wiring.store, wiring.storage, runner, args.workers)
            for i in range(args.workers.pool_size)
        ]
        for worker in env.workers[name]:
            worker.handoff = handoff
    return LocalRuntime(wiring.service, env.workers, env.limiters, wiring)
