"""DiffusionDeployment: Serve replicas around ``genpulse.diffusion.engine.DiffusionEngine``.

- **Models by name, multiplexed**: callers set ``multiplexed_model_id`` to the task's model, so Serve routes to
  a replica that already holds it; a replica keeps up to ``max_models_per_replica`` models (Serve's LRU; an
  evicted model's ``__del__`` frees its memory). A model that fails to load fails its requests, not the replica.
- **Batching**: the engine's ``MicroBatcher`` (size and wait from config; it does what ``@serve.batch`` does,
  which needs a live replica context and so cannot run in tests without Ray); each gathered batch is split into
  groups of compatible requests (``genpulse.diffusion.batching``), one pipeline call each, run in a thread so
  the replica's event loop stays free for health checks.
- **Warm-up**: with ``warmup``, the replica loads the default model and runs one small call before it takes
  traffic, so the first request is not the slow one.
- **Model loads in the task's progress**: workers call ``generate_stream`` (``DiffusionClient.watched``): a
  request that waits for its model to load on the replica hears ``{"loading": model}`` and ``{"loaded": model}``
  before its result, and the runner shows them in the task's progress (``genpulse.diffusion.diffusion_runner``).

Options (replicas, autoscaling, num_cpus/num_gpus, max_ongoing_requests) come from ``DiffusionConfig`` in the
app builder (``options_for``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.handle import DeploymentHandle

from genpulse.core.config import DiffusionConfig, Placement
from genpulse.core.errors import GenPulseError, ServiceUnavailable
from genpulse.diffusion.engine import DiffusionEngine, OnLoad, load_model

logger = logging.getLogger(__name__)


@serve.deployment(name="DiffusionDeployment")
class DiffusionDeployment:
    def __init__(self, config: DiffusionConfig) -> None:
        preloaded: dict[str, Any] = {}

        async def load(name: str) -> Any:  # Serve's LRU calls this on a miss; torch loads here, in the replica
            if name in preloaded:
                return preloaded.pop(name)
            async with self.engine.loads.loading(name):  # requests waiting for it hear of the load
                return await asyncio.to_thread(load_model, self.engine.catalog, name)

        multiplexed = serve.multiplexed(max_num_models_per_replica=config.max_models_per_replica)(load)
        self.engine = DiffusionEngine(config, get_model=multiplexed)
        if config.warmup:
            try:
                preloaded[self.engine.catalog.default] = self.engine.warm_up()
            except GenPulseError as exc:  # the replica stays up; the default model's tasks fail with this
                logger.error("diffusion warm-up failed: %s", exc.message)

    async def generate(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request (``{"task_type", **params}``; callers set ``multiplexed_model_id`` to its model): its
        result or ``{"error": {...}}``."""
        return await self.engine.submit(request)

    async def generate_stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``generate`` as a stream (``handle.options(stream=True)``): ``{"loading": model}`` and
        ``{"loaded": model}`` when the request waits for its model to load here, then ``{"result": ...}``."""
        async for event in self.engine.stream(request):
            yield event

    def info(self) -> dict[str, Any]:
        return self.engine.info()


class DiffusionClient:
    """How a worker calls the DiffusionDeployment: routed to a replica that holds the request's model; a ``Generate``
    (``genpulse.jobs.runners``) whose ``watched`` also reports the model's load (``DiffusionRunner`` uses it)."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            model = str(params.get("model") or "")  # route to a replica that holds the model
            return await self._handle.options(multiplexed_model_id=model).generate.remote(params)
        except RayActorError as exc:  # the replica died (its node went away): Serve replaces it, so retry
            raise ServiceUnavailable(f"diffusion replica lost: {type(exc).__name__}") from None

    async def watched(self, params: dict[str, Any], on_load: OnLoad) -> dict[str, Any]:
        model = str(params.get("model") or "")
        handle = self._handle.options(multiplexed_model_id=model, stream=True)
        try:
            async for event in handle.generate_stream.remote(params):
                if "result" in event:
                    return dict(event["result"])
                await on_load(str(event.get("loading") or event.get("loaded")), "loaded" in event)
        except RayActorError as exc:
            raise ServiceUnavailable(f"diffusion replica lost: {type(exc).__name__}") from None
        raise ServiceUnavailable("the diffusion replica's stream ended without a result")


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
