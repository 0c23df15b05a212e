"""Runners: how one task of a provider is executed, once a worker has leased it.

A runner gets the task and a ``RunContext`` and returns the task's ``result`` (``{"assets": [...], ...}``),
or raises a ``GenPulseError`` (retryable or not). It reports progress and checkpoints the vendor's job id
through the context, so a resumed task continues instead of starting over. Runners hold no task state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from genpulse.errors import ExecutionError
from genpulse.schemas import Task
from genpulse.storage import Storage


class RunContext(Protocol):
    storage: Storage

    async def progress(self, value: float) -> None: ...

    async def checkpoint(self, provider_task_id: str | None) -> None: ...


class Runner(Protocol):
    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]: ...


Generate = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class DiffusionRunner:
    """Provider ``diffusers``: one call to the DiffusionDeployment, then every image into storage."""

    def __init__(self, generate: Generate) -> None:
        self._generate = generate

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
