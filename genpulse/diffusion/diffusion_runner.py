"""Running a ``diffusers`` task: one call to a diffusion engine, then every image into storage.

In a cluster ``generate`` calls the app's DiffusionDeployment (``deployments/``); in-process hosts use
``lazy_engine_generate``, which loads the configured pipeline in a thread on first use.
"""

from __future__ import annotations

import asyncio
from typing import Any

from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ExecutionError
from genpulse.core.schemas import Task
from genpulse.jobs.runners import Generate, RunContext


class DiffusionRunner:
    """Provider ``diffusers``: one call to the DiffusionDeployment, then every image into storage."""

    def __init__(self, generate: Generate) -> None:
        self._generate = generate

    async def cancel_job(self, task: Task) -> bool:
        return False  # a diffusion call ends with its replica call: nothing outlives the worker

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        out = await self._generate(task.params)
        images = out.get("images") or []
        if not images:
            raise ExecutionError("the diffusion deployment returned no image")
        await ctx.progress(90)
        assets = []
        for png in images:
            asset = await asyncio.to_thread(ctx.storage.put, png, "image/png")
            assets.append(asset.model_dump(mode="json"))
        return {"assets": assets, "seed": out.get("seed")}


def lazy_engine_generate(config: DiffusionConfig) -> Generate:
    """A ``generate`` that builds a DiffusionEngine on first call and runs it in a thread."""
    engine: list[Any] = []
    lock = asyncio.Lock()

    async def generate(params: dict[str, Any]) -> dict[str, Any]:
        async with lock:
            if not engine:
                from genpulse.diffusion.engine import DiffusionEngine  # torch loads here, on first use only

                engine.append(await asyncio.to_thread(DiffusionEngine, config))
        return await asyncio.to_thread(engine[0].generate, params)

    return generate
