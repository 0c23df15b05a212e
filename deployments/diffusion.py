"""DiffusionDeployment: Serve replicas around ``genpulse.diffusion.engine.DiffusionEngine``.

Options (replicas, autoscaling, num_cpus/num_gpus, max_ongoing_requests) come from ``DiffusionConfig`` in the
app builder. ``generate`` is a sync method, so Serve runs it in its thread pool and the replica's event loop
stays free for health checks.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from genpulse.core import metrics
from genpulse.core.config import DiffusionConfig, Placement


@serve.deployment(name="DiffusionDeployment")
class DiffusionDeployment:
    def __init__(self, config: DiffusionConfig) -> None:
        from genpulse.diffusion.engine import DiffusionEngine  # torch loads here, in the replica only

        self.engine = DiffusionEngine(config)

    def generate(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self.engine.config.model
        metrics.DIFFUSION_BATCH.record(int(params.get("num_images") or 1), model=model)
        with metrics.timed(metrics.DIFFUSION_SECONDS, model=model):
            return self.engine.generate(params)

    def info(self) -> dict[str, Any]:
        return self.engine.info()


def options_for(config: DiffusionConfig, placement: Placement | None = None) -> dict[str, Any]:
    actor_options = {"num_cpus": config.num_cpus, "num_gpus": config.num_gpus}
    if placement is not None:
        actor_options |= placement.actor_options()
    opts: dict[str, Any] = {
        "ray_actor_options": actor_options,
        "max_ongoing_requests": config.max_ongoing_requests,
    }
    if config.autoscaling is not None:
        opts["autoscaling_config"] = config.autoscaling.model_dump()
    else:
        opts["num_replicas"] = config.num_replicas
    return opts
