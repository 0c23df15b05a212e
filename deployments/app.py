"""build_app: the Serve application graph, from typed config.

``serve_config.yaml`` points ``import_path`` here; its ``args:`` block (plus ``GENPULSE_*`` environment
overrides) is validated into ``AppArgs`` once, and an invalid config fails the deploy with a message naming
each bad field. The graph: ``Ingress(args, DiffusionDeployment(args.diffusion))`` (no diffusion deployment when
no enabled provider runs on it). Each process then wires itself once with ``genpulse.wiring.Wiring``
(``deployments/cluster.py`` is its Ray environment): the ingress replicas get or create the named detached
actors (task store, provider worker pools, limiters) at start-up.
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from deployments.diffusion import DiffusionDeployment, options_for
from deployments.ingress import Ingress
from genpulse.core.config import AppArgs
from genpulse.providers.registry import Registry


def build_app(args: dict[str, Any] | AppArgs | None = None) -> Application:
    config = AppArgs.load(args)
    diffusion = None
    if Registry(config).needs_diffusion():  # a vendor-only gateway needs no diffusion replicas
        diffusion_options = options_for(config.diffusion, config.placement.diffusion)
        diffusion = DiffusionDeployment.options(**diffusion_options).bind(config.diffusion)
    ingress = Ingress.options(
        num_replicas=config.server.ingress_replicas,
        max_ongoing_requests=config.server.ingress_max_ongoing_requests,  # long-lived + short: see ServerConfig
        logging_config={"enable_access_log": config.server.access_log},
        ray_actor_options={"num_cpus": 0, **config.placement.ingress.actor_options()},
    )
    return ingress.bind(config, diffusion)
