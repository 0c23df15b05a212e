"""Ingress: the public FastAPI app (``genpulse.api``) served by Ray Serve.

Each replica builds its process's ``Wiring`` with the Ray environment, gets or creates the provider worker
pools, the retention and webhook actors, hands the limiters this deploy's limits, and puts the wiring's
``TaskService`` on the FastAPI app's state. Nothing here does work that outlives a request.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.cluster import RayEnvironment, adopt_leftovers, serve_http_host
from deployments.incluster import HandleAPI
from deployments.retention_actor import start_retention
from deployments.webhook_actor import start_webhook_actor
from deployments.worker_actor import deploy_pool, start_pool
from genpulse.api.app import create_api
from genpulse.core import gc_tuning
from genpulse.core.config import AppArgs
from genpulse.jobs.dispatch import PoolDispatcher
from genpulse.tenants.auth import check_exposure
from genpulse.wiring import Wiring


@serve.deployment(name="Ingress")
@serve.ingress()
class Ingress(HandleAPI):
    def __init__(self, args: AppArgs, diffusion: DeploymentHandle | None) -> None:
        check_exposure(args.auth, serve_http_host())  # auth off only behind loopback: fails the deploy otherwise
        self.args, self.app_name = args, serve.get_replica_context().app_name
        environment = RayEnvironment(args, self.app_name, start_pool, diffusion)
        self.wiring = Wiring(args, environment)
        self.dispatcher = self.wiring.dispatcher
        assert isinstance(self.dispatcher, PoolDispatcher)
        # every pool up now, made by this deploy: their reconcile loops adopt work left from before
        self.dispatcher.refresh(lambda provider: deploy_pool(provider, args, self.app_name))
        self.retention = start_retention(args)
        environment.configure_limiters(self.wiring)  # a redeploy with new limits reaches the running limiters
        self.webhooks = start_webhook_actor(args)  # not a readiness check: tasks run while it restarts
        self.service = self.wiring.service
        self.max_body_bytes = args.server.max_body_bytes
        self._leftovers_checked = False
        gc_tuning.tune()  # py-spy, submit storm: 22 % of this replica's CPU was the cyclic collector

    async def check_health(self) -> None:
        """Serve's periodic health check; also the workers' supervisor: a worker that died for good (killed,
        out of restarts, its node gone) is created again, and its reconcile loop adopts the orphaned tasks."""
        self.dispatcher.refresh()
        self.webhooks = start_webhook_actor(self.args)
        if not self._leftovers_checked:  # once per replica: tasks of a provider that is no longer configured
            assert isinstance(self.dispatcher, PoolDispatcher)
            await adopt_leftovers(self.wiring, self.dispatcher)
            self._leftovers_checked = True

    def __serve_build_asgi_app__(self) -> Any:
        """Serve calls this after ``__init__``: the replica's own FastAPI app, bound to its service."""
        api = create_api(self.max_body_bytes, self.args.server.max_long_lived)  # this replica's own cap
        api.state.service = self.service
        return api
