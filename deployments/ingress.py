"""Ingress: the public FastAPI app (``genpulse.api``) served by Ray Serve.

Each replica opens the store and storage, gets or creates the provider worker pools and the app's handles,
and puts a ``TaskService`` on the FastAPI app's state. Nothing here does work that outlives a request.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.incluster import HandleAPI
from deployments.webhook_actor import start_webhook_actor
from deployments.worker_actor import start_pool
from genpulse.api.app import create_api
from genpulse.config import AppArgs
from genpulse.dispatch import PoolDispatcher
from genpulse.providers import Registry
from genpulse.service import TaskService
from genpulse.storage import open_storage
from genpulse.tasks import open_store


@serve.deployment(name="Ingress")
@serve.ingress()
class Ingress(HandleAPI):
    def __init__(self, args: AppArgs, diffusion: DeploymentHandle) -> None:
        app_name = serve.get_replica_context().app_name
        registry = Registry(args)
        store = open_store(args.store, args.namespace)
        storage = open_storage(args.storage)
        pools = {p: start_pool(p, args, app_name) for p in registry.names()}
        dispatcher = PoolDispatcher(pools)
        self.webhooks = start_webhook_actor(args)  # not a readiness check: tasks run while it restarts
        self.diffusion = diffusion

        async def diffusion_ready() -> Any:
            return await diffusion.info.remote()

        async def storage_ready() -> None:
            storage.ping()

        self.service = TaskService(
            args,
            store,
            storage,
            registry,
            dispatcher,
            checks={
                "store": store.ping,
                "storage": storage_ready,
                "workers": dispatcher.ping,
                "diffusion": diffusion_ready,
            },
        )
        self.max_body_bytes = args.server.max_body_bytes

    def __serve_build_asgi_app__(self) -> Any:
        """Serve calls this after ``__init__``: the replica's own FastAPI app, bound to its service."""
        api = create_api(self.max_body_bytes)
        api.state.service = self.service
        return api
