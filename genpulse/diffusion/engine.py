"""DiffusionEngine: models by name, concurrent requests batched into pipeline calls, results per request.

Plain Python, the whole of a diffusion replica's logic: in-process hosts use it as is (``lazy_engine_generate``);
the Serve deployment (``deployments/diffusion.py``) passes Serve's model multiplexing as ``get_model``, in
place of the engine's own LRU (``max_models_per_replica``). torch loads with the first model.

- ``submit`` (async): one request through the ``MicroBatcher``; compatible concurrent requests share a call;
  pipeline calls run in a thread, never on the event loop. With ``on_load``, the request also hears when it waits
  for its model to load (``ModelLoads``) and when that load ends: the task shows it in its progress.
- ``stream`` (async): ``submit`` as a stream, for a caller in another process (the Serve deployment's
  ``generate_stream``): ``{"loading": model}``, ``{"loaded": model}``, then ``{"result": ...}``.
- ``generate_batch`` / ``generate`` (sync): the same work without the batcher, for bare loops and checks.

Results: ``{"images": [png...]}`` (image task types) or ``{"videos": [mp4], "posters": [png]}`` (video task
types), with ``seed``, ``model``, ``width``, ``height`` and ``batch_size``; or ``{"error": {...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from genpulse.core import metrics
from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ConfigError, GenPulseError, error_from_dict
from genpulse.diffusion.batching import Job, parse, plan, run_group
from genpulse.diffusion.microbatch import MicroBatcher
from genpulse.diffusion.models import ModelCatalog

GetModel = Callable[[str], Awaitable[Any]]
OnLoad = Callable[[str, bool], Awaitable[None]]  # (model, done): its load started (False) or ended (True)


class ModelLoads:
    """The models being loaded now, on one event loop: a request learns that it waits for its model's load (one
    already under way, or the next to start) and when that load ends. Loaders wrap the load in ``loading``."""

    def __init__(self) -> None:
        self._current: dict[str, asyncio.Future[bool]] = {}  # model -> its load's end (True: it loaded)
        self._next: dict[str, asyncio.Future[asyncio.Future[bool]]] = {}  # model -> resolved when a load starts

    @contextlib.asynccontextmanager
    async def loading(self, name: str) -> AsyncIterator[None]:
        ended: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._current[name] = ended
        starting = self._next.pop(name, None)
        if starting is not None and not starting.done():
            starting.set_result(ended)
        loaded = False
        try:
            yield
            loaded = True
        finally:
            if self._current.get(name) is ended:
                del self._current[name]
            ended.set_result(loaded)

    def is_loading(self, name: str) -> bool:
        return name in self._current

    async def started(self, name: str) -> asyncio.Future[bool]:
        """Wait until ``name`` is loading (now, or when its next load starts); returns that load's end (True: the
        model loaded; False: the load failed)."""
        if name in self._current:
            return self._current[name]
        starting = self._next.get(name)
        if starting is None or starting.done():
            starting = self._next[name] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(starting)


def load_model(catalog: ModelCatalog, name: str) -> Any:
    """Load model ``name`` (``ConfigError`` when its directory is missing or does not load)."""
    from genpulse.diffusion.pipelines import LoadedModel

    return LoadedModel(catalog.get(name), catalog.config, catalog.path(name))


class DiffusionEngine:
    def __init__(self, config: DiffusionConfig, get_model: GetModel | None = None) -> None:
        self.config = config
        self.catalog = ModelCatalog(config)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = ModelLoads()
        self._get_model = get_model or self._own_model
        self._batcher = MicroBatcher(self._run_batch, config.max_batch_size, config.batch_wait_timeout_s)

    def model(self, name: str) -> Any:
        """Model ``name`` from the engine's LRU, loading it (and evicting the least recently used) if needed."""
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            loaded = load_model(self.catalog, name)  # under the lock: one load at a time, never twice
            self._models[name] = loaded
            while len(self._models) > self.config.max_models_per_replica:
                self._models.popitem(last=False)[1].close()
            return loaded

    async def _own_model(self, name: str) -> Any:
        if name in self._models:
            return await asyncio.to_thread(self.model, name)
        async with self.loads.loading(name):
            return await asyncio.to_thread(self.model, name)

    def loaded(self) -> list[str]:
        return list(self._models)

    def info(self) -> dict[str, Any]:
        return {"default": self.catalog.default, "models": self.catalog.names(), "loaded": self.loaded()}

    def parse(self, index: int, request: dict[str, Any]) -> Job:
        return parse(index, request, lambda name, task_type: self.catalog.get(name, task_type).name)

    def warm_up(self) -> Any:
        """Load the default model and run one small call (so the first request is not the slow one)."""
        name = self.catalog.default
        model = load_model(self.catalog, name)
        spec = self.catalog.get(name)
        size = max(self.config.min_size, 64)
        request = {"task_type": spec.task_types[0], "prompt": "warm-up", "width": size, "height": size,
                   "num_inference_steps": 1, "seed": 0, "model": name}  # fmt: skip
        if spec.kind == "video":
            request["num_frames"] = 1
        run_group(model, [self.parse(0, request)])
        return model

    async def submit(self, request: dict[str, Any], on_load: OnLoad | None = None) -> dict[str, Any]:
        """One request (``{"task_type", **params}``): its result or ``{"error": {...}}``. ``on_load(model, done)``
        is awaited when the request waits for its model's load and when that load ends (an error it raises is
        the request's)."""
        if on_load is None:
            return await self._batcher.submit(request)
        result = asyncio.ensure_future(self._batcher.submit(request))
        watch = asyncio.ensure_future(self._watch_load(str(request.get("model") or self.catalog.default), on_load))
        try:
            await asyncio.wait({result, watch}, return_when=asyncio.FIRST_COMPLETED)
            if watch.done() and watch.exception() is not None:
                result.cancel()
                watch.result()  # raises the watcher's error
            return await result
        finally:
            watch.cancel()
            result.cancel()

    async def _watch_load(self, name: str, on_load: OnLoad) -> None:
        ended = await self.loads.started(name)
        await on_load(name, False)
        if await ended:
            await on_load(name, True)

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``submit`` with ``on_load`` as a stream: ``{"loading": model}`` and ``{"loaded": model}`` when the
        request waits for its model's load, then ``{"result": ...}``."""
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_load(name: str, done: bool) -> None:
            events.put_nowait({"loaded" if done else "loading": name})

        result = asyncio.ensure_future(self.submit(request, on_load))
        try:
            while not result.done():
                event = asyncio.ensure_future(events.get())
                await asyncio.wait({result, event}, return_when=asyncio.FIRST_COMPLETED)
                if event.done():
                    yield event.result()
                else:
                    event.cancel()
            while not events.empty():
                yield events.get_nowait()
            yield {"result": await result}
        finally:
            result.cancel()

    async def _run_batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = [{}] * len(requests)
        jobs = self._parse_all(requests, results)
        for group in plan(jobs, self.config.max_batch_size):
            name = group[0].model
            try:
                model = await self._get_model(name)
            except GenPulseError as exc:
                out = [{"error": load_error(exc)}] * len(group)
            else:
                out = await asyncio.to_thread(_timed_group, model, group)
            for job, result in zip(group, out, strict=True):
                results[job.index] = result
        return results

    def _parse_all(self, requests: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[Job]:
        jobs = []
        for i, request in enumerate(requests):
            try:
                jobs.append(self.parse(i, request))
            except GenPulseError as exc:
                results[i] = {"error": exc.to_dict()}
        return jobs

    def generate_batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Synchronous, no batcher: ``requests`` as they are, compatible ones sharing a call."""
        results: list[dict[str, Any]] = [{}] * len(requests)
        for group in plan(self._parse_all(requests, results), self.config.max_batch_size):
            try:
                out = _timed_group(self.model(group[0].model), group)
            except GenPulseError as exc:
                out = [{"error": load_error(exc)}] * len(group)
            for job, result in zip(group, out, strict=True):
                results[job.index] = result
        return results

    def generate(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request, synchronously; raises its ``GenPulseError`` instead of returning it."""
        (result,) = self.generate_batch([request])
        if "error" in result:
            raise error_from_dict(result["error"])
        return result


def _timed_group(model: Any, group: list[Job]) -> list[dict[str, Any]]:
    name = group[0].model
    metrics.DIFFUSION_BATCH.record(sum(getattr(j.params, "num_images", 1) for j in group), model=name)
    with metrics.timed(metrics.DIFFUSION_SECONDS, model=name):
        return run_group(model, group)


def load_error(exc: GenPulseError) -> dict[str, Any]:
    """A model that does not load fails its tasks (permanently), not the process."""
    if isinstance(exc, ConfigError):
        return {"type": "execution_error", "message": exc.message, "retryable": False, "provider_code": None}
    return exc.to_dict()
