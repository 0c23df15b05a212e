"""Ingress: the public FastAPI app (``genpulse.api``) served by Ray Serve.

Each replica opens the store and storage, gets or creates the provider worker pools and the app's handles,
and puts a ``TaskService`` on the FastAPI app's state. Nothing here does work that outlives a request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.incluster import HandleAPI
from deployments.limiter_actor import connect_limiter
from deployments.retention_actor import start_retention
from deployments.webhook_actor import start_webhook_actor
from deployments.worker_actor import start_pool
from genpulse.api.app import create_api
from genpulse.config import AppArgs
from genpulse.dispatch import PoolDispatcher
from genpulse.providers import Registry
from genpulse.providers.cloud import CloudProvider
from genpulse.service import TaskService
from genpulse.storage import open_storage
from genpulse.tasks import open_store


@serve.deployment(name="Ingress")
@serve.ingress()
class Ingress(HandleAPI):
    def __init__(self, args: AppArgs, diffusion: DeploymentHandle | None) -> None:
        self.args, self.app_name = args, serve.get_replica_context().app_name
        registry = Registry(args)
        store = open_store(args.store, args.namespace, args.placement.store.actor_options())
        storage = open_storage(args.storage)
        self.dispatcher = PoolDispatcher({p: start_pool(p, args, self.app_name) for p in registry.names()})
        self.retention = start_retention(args)
        for provider in registry.all():  # a redeploy with new limits reaches the running limiters (no restart)
            if isinstance(provider, CloudProvider):
                cfg = provider.config
                connect_limiter(provider.name, args).configure.remote(cfg.rps, cfg.max_concurrent_jobs)
        self.webhooks = start_webhook_actor(args)  # not a readiness check: tasks run while it restarts

        async def storage_ready() -> None:
            storage.ping()

        checks: dict[str, Any] = {"store": store.ping, "storage": storage_ready, "workers": self.dispatcher.ping}
        if diffusion is not None:

            async def diffusion_ready() -> Any:
                return await diffusion.info.remote()

            checks["diffusion"] = diffusion_ready
        limiters = [connect_limiter(p.name, args) for p in registry.all() if isinstance(p, CloudProvider)]
        if limiters:

            async def limiters_ready() -> None:
                await asyncio.gather(*(h.stats.remote() for h in limiters))

            checks["limiters"] = limiters_ready
        self.service = TaskService(args, store, storage, registry, self.dispatcher, checks=checks)
        self.max_body_bytes = args.server.max_body_bytes

    async def check_health(self) -> None:
        """Serve's periodic health check; also the workers' supervisor: a worker that died for good (killed,
        out of restarts, its node gone) is created again, and its reconcile loop adopts the orphaned tasks."""
        for provider in list(self.dispatcher.pools):
            self.dispatcher.pools[provider] = start_pool(provider, self.args, self.app_name)
        self.webhooks = start_webhook_actor(self.args)

    def __serve_build_asgi_app__(self) -> Any:
        """Serve calls this after ``__init__``: the replica's own FastAPI app, bound to its service."""
        api = create_api(self.max_body_bytes)
        api.state.service = self.service
        return api
