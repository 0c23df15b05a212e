"""Running a ``diffusers`` task: resolve its model and input image, one call to a diffusion engine, outputs into
storage.

In a cluster ``generate`` calls the app's DiffusionDeployment (``deployments/``), routed to a replica that holds
the model; in-process hosts use ``lazy_engine_generate``, which loads models in a thread on first use.
Results: ``assets`` (PNGs; or the MP4 then its poster PNG), ``seed``, ``model``, ``batch_size`` (requests the
pipeline call carried) and, for video, ``poster``.

Progress: a task that waits for its model to load shows it: ``LOADING_PROGRESS`` (5) while the model loads on the
replica (or in-process), ``LOADED_PROGRESS`` (10) once it is loaded and the task's call runs, 90 while the outputs
are stored. A ``generate`` that can report loads (``WatchesLoads``: ``DiffusionClient`` in a cluster, the
in-process ``LazyEngine``) is called with ``watched``; any other (test fakes) plainly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ExecutionError, GenPulseError, error_from_dict
from genpulse.core.schemas import Task
from genpulse.diffusion.models import ModelCatalog
from genpulse.jobs.runners import Generate, RunContext
from genpulse.media.inputs import InputResolver

LOADING_PROGRESS = 5.0  # the task waits for its model to load
LOADED_PROGRESS = 10.0  # its model is loaded: its pipeline call runs

OnLoad = Callable[[str, bool], Awaitable[None]]  # (model, done): its load started (False) or ended (True)


@runtime_checkable
class WatchesLoads(Protocol):
    """A ``Generate`` that also reports when the request waits for its model to load, and when that load ends."""

    async def __call__(self, request: dict[str, Any]) -> dict[str, Any]: ...

    async def watched(self, request: dict[str, Any], on_load: OnLoad) -> dict[str, Any]: ...


class DiffusionRunner:
    """Provider ``diffusers``: one call to the DiffusionDeployment, then every output into storage."""

    def __init__(self, generate: Generate, catalog: ModelCatalog, inputs: InputResolver | None = None) -> None:
        self._generate, self._catalog, self._inputs = generate, catalog, inputs

    async def cancel_job(self, task: Task) -> bool:
        return False  # a diffusion call ends with its replica call: nothing outlives the worker

    def wake(self, task_id: str) -> bool:
        return False  # no vendor, no callbacks

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        params = dict(task.params)
        params["model"] = self._catalog.get(params.get("model"), task.task_type).name
        if isinstance(params.get("image"), str) and self._inputs is not None:
            image = await self._inputs.image(params["image"], want="bytes", field="params.image")
            params["image"] = image.data_uri
        request = {"task_type": task.task_type, **params}
        if isinstance(self._generate, WatchesLoads):

            async def on_load(model: str, done: bool) -> None:
                await ctx.progress(LOADED_PROGRESS if done else LOADING_PROGRESS)

            out = await self._generate.watched(request, on_load)
        else:
            out = await self._generate(request)
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


class LazyEngine:
    """The in-process ``generate``: builds a DiffusionEngine on first call and runs it in a thread. ``watched``
    loads the request's model first when it is not loaded, between ``on_load(model, False)`` and
    ``on_load(model, True)`` (building the engine, which imports torch, counts as part of that load)."""

    def __init__(self, config: DiffusionConfig) -> None:
        self._config = config
        self._engine: Any = None
        self._lock = asyncio.Lock()

    async def _get(self) -> Any:
        async with self._lock:
            if self._engine is None:
                from genpulse.diffusion.engine import DiffusionEngine  # torch loads here, on first use only

                self._engine = await asyncio.to_thread(DiffusionEngine, self._config, False)
        return self._engine

    async def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        results = await asyncio.to_thread((await self._get()).generate_batch, [request])
        return dict(results[0])

    async def watched(self, request: dict[str, Any], on_load: OnLoad) -> dict[str, Any]:
        name = str(request.get("model") or "")
        if name and (self._engine is None or name not in self._engine.loaded()):
            await on_load(name, False)
            engine = await self._get()
            try:
                await asyncio.to_thread(engine.model, name)
            except GenPulseError:
                return await self(request)  # it fails the task with the load's error
            await on_load(name, True)
        return await self(request)


def lazy_engine_generate(config: DiffusionConfig) -> Generate:
    """A ``generate`` that builds a DiffusionEngine on first call and runs it in a thread (``LazyEngine``)."""
    return LazyEngine(config)
