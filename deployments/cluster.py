"""The Ray environment of ``genpulse.wiring.Wiring``: how a process of the cluster reaches the shared parts.

The store is the Redis store or the named store actor; tasks go to each provider's ProviderWorker pool
(named detached actors, got or created on first use); vendor calls go through the provider's named
RateLimiterActor; local diffusion is the app's ``DiffusionDeployment``. The ingress replica and the worker
actor both build their ``Wiring`` with it: one wiring, two hosts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.diffusion import DiffusionClient
from deployments.limiter_actor import ActorLimiter, connect_limiter, limiter_name, limiter_version
from deployments.versions import replace_stale
from genpulse.core import metrics
from genpulse.core.config import AppArgs
from genpulse.core.schemas import TaskStatus
from genpulse.jobs.dispatch import PoolDispatcher
from genpulse.jobs.runners import Generate
from genpulse.providers.cloud import CloudProvider
from genpulse.providers.vendor_runner import Limiter
from genpulse.tasks import TaskStore, open_store
from genpulse.wiring import Check, Wiring

ConnectPool = Callable[[str, AppArgs, str], Sequence[Any]]  # (provider, args, app name) -> worker actors

log = logging.getLogger("genpulse.deployments.cluster")


class RayEnvironment:
    """``connect_pool`` is ``deployments.worker_actor.start_pool`` (passed in: that module hosts this one too)."""

    def __init__(
        self, args: AppArgs, app_name: str, connect_pool: ConnectPool, diffusion: DeploymentHandle | None = None
    ) -> None:
        self.args, self.app_name, self._connect_pool = args, app_name, connect_pool
        self._diffusion = diffusion

    def _diffusion_handle(self) -> DeploymentHandle:
        if self._diffusion is None:
            self._diffusion = serve.get_deployment_handle("DiffusionDeployment", self.app_name)
        return self._diffusion

    def open_store(self, args: AppArgs) -> TaskStore:
        return open_store(args.store, args.namespace, args.placement.store.actor_options())

    def dispatcher(self, wiring: Wiring) -> PoolDispatcher:
        # pools of configured providers only: an unconfigured one takes no tasks (its pool is made on first use, for
        # tasks left from when it was configured: ``adopt_leftovers``)
        return PoolDispatcher(lambda p: self._connect_pool(p, self.args, self.app_name), configured(wiring))

    def limiter(self, provider: CloudProvider) -> Limiter:
        def connect() -> Any:
            return connect_limiter(provider.name, self.args)

        return metrics.MeteredLimiter(ActorLimiter(connect(), reconnect=connect), provider.name)

    def diffusion(self) -> Generate:
        return DiffusionClient(self._diffusion_handle())  # routed by model; reports model loads to the runner

    def checks(self, wiring: Wiring) -> dict[str, Check]:
        checks: dict[str, Check] = {}
        checks["workers"] = self._pool_dispatcher(wiring).ping
        if wiring.registry.needs_diffusion():
            handle = self._diffusion_handle()

            async def diffusion_ready() -> Any:
                return await handle.info.remote()

            checks["diffusion"] = diffusion_ready
        limiters = [connect_limiter(p.name, self.args) for p in wiring.registry.rate_limited() if p.is_configured()]
        if limiters:

            async def limiters_ready() -> None:
                await asyncio.gather(*(h.stats.remote() for h in limiters))

            checks["limiters"] = limiters_ready
        return checks

    @staticmethod
    def _pool_dispatcher(wiring: Wiring) -> PoolDispatcher:
        dispatcher = wiring.dispatcher
        assert isinstance(dispatcher, PoolDispatcher)  # this environment made it
        return dispatcher

    def configure_limiters(self, wiring: Wiring) -> None:
        """Hand the running limiters this deploy's limits (a redeploy reaches them without a restart; limits
        changed at run time stand until a deploy changes the configured ones)."""
        for provider in wiring.registry.rate_limited():
            if not provider.is_configured():  # no credentials, no vendor calls: no limiter actor either
                continue
            cfg = provider.config
            name = limiter_name(provider.name)
            limiter = replace_stale(
                name,
                self.args.namespace,
                limiter_version(),
                lambda p=provider.name: connect_limiter(p, self.args),
                on_replaced=lambda new: new.restarted.remote(),  # running jobs re-register their slots first
            )
            limiter.deploy_limits.remote(cfg.rps, cfg.max_concurrent_jobs)


def configured(wiring: Wiring) -> list[str]:
    """The enabled providers that can run tasks (credentials present): the ones that get workers and limiters."""
    return [p.name for p in wiring.registry.all() if p.is_configured()]


async def adopt_leftovers(wiring: Wiring, dispatcher: PoolDispatcher) -> list[str]:
    """Start the pools of unconfigured providers that still have open tasks (stored while they were configured):
    their workers settle them. Returns those providers."""
    started = []
    for name in sorted(set(wiring.registry.names()) - set(dispatcher.providers)):
        for status in (TaskStatus.queued, TaskStatus.running):
            tasks, _ = await wiring.store.list(status=status, provider=name, limit=1)
            if tasks:
                dispatcher.providers.append(name)
                dispatcher.pool(name)
                started.append(name)
                break
    return started


def serve_http_host() -> str | None:
    """The address Serve's HTTP proxies listen on (None when it cannot be read: treated as exposed)."""
    try:
        from ray.serve.context import _get_global_client

        return _get_global_client().http_config.host
    except Exception:  # a private API: if it moves, refuse auth-off rather than guess
        log.warning("cannot read Serve's HTTP host", exc_info=True)
        return None
