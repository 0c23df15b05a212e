"""Running a ``diffusers`` task: resolve its model and input image, one call to a diffusion engine, outputs into
storage.

In a cluster ``generate`` calls the app's DiffusionDeployment (``deployments/``), routed to a replica that holds
the model; in-process hosts use ``lazy_engine_generate``, which loads models in a thread on first use.
Results: ``assets`` (PNGs; or the MP4 then its poster PNG), ``seed``, ``model``, ``batch_size`` (requests the
pipeline call carried) and, for video, ``poster``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ExecutionError, error_from_dict
from genpulse.core.schemas import Task
from genpulse.diffusion.models import ModelCatalog
from genpulse.jobs.runners import Generate, RunContext
from genpulse.media.inputs import InputResolver


class DiffusionRunner:
    """Provider ``diffusers``: one call to the DiffusionDeployment, then every output into storage."""

    def __init__(self, generate: Generate, catalog: ModelCatalog, inputs: InputResolver | None = None) -> None:
        self._generate, self._catalog, self._inputs = generate, catalog, inputs

    async def cancel_job(self, task: Task) -> bool:
        return False  # a diffusion call ends with its replica call: nothing outlives the worker

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        params = dict(task.params)
        params["model"] = self._catalog.get(params.get("model"), task.task_type).name
        if isinstance(params.get("image"), str) and self._inputs is not None:
            image = await self._inputs.image(params["image"], want="bytes", field="params.image")
            params["image"] = image.data_uri
        out = await self._generate({"task_type": task.task_type, **params})
        if "error" in out:
            raise error_from_dict(out["error"])
        await ctx.progress(90)
        result: dict[str, Any] = {k: out.get(k) for k in ("seed", "model", "batch_size")}
        assets = []
        for mp4 in out.get("videos") or []:
            assets.append(await _put(ctx, mp4, "video/mp4"))
        posters = [await _put(ctx, png, "image/png") for png in out.get("posters") or []]
        for png in out.get("images") or []:
            assets.append(await _put(ctx, png, "image/png"))
        if not assets:
            raise ExecutionError("the diffusion deployment returned no output")
        if posters:
            result["poster"] = posters[0]
        return {"assets": assets + posters, **result}


async def _put(ctx: RunContext, data: bytes, content_type: str) -> dict[str, Any]:
    asset = await asyncio.to_thread(ctx.storage.put, data, content_type)
    return asset.model_dump(mode="json")


def lazy_engine_generate(config: DiffusionConfig) -> Generate:
    """A ``generate`` that builds a DiffusionEngine on first call and runs it in a thread."""
    engine: list[Any] = []
    lock = asyncio.Lock()

    async def generate(request: dict[str, Any]) -> dict[str, Any]:
        async with lock:
            if not engine:
                from genpulse.diffusion.engine import DiffusionEngine  # torch loads here, on first use only

                engine.append(await asyncio.to_thread(DiffusionEngine, config, False))
        results = await asyncio.to_thread(engine[0].generate_batch, [request])
        return results[0]

    return generate
