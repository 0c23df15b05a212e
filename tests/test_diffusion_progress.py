"""A task that waits for its model to load shows it in its progress (5 while the model loads, 10 once loaded),
without Ray: the engine's stream (what the Serve replica sends the worker) and the in-process app end to end. The
same path through real Serve replicas is checked in ``tests/test_diffusion_serve.py``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.config import DiffusionConfig
from genpulse.diffusion.diffusion_runner import LOADED_PROGRESS, LOADING_PROGRESS
from tests.harness import local_args, running_app
from tests.support.tasks import progress_of

SMALL = {"width": 64, "height": 64, "num_inference_steps": 2}


async def events_of(engine: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    return [event async for event in engine.stream(request)]


async def test_a_request_hears_its_models_load_once(tiny_cache: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from genpulse.diffusion.engine import DiffusionEngine

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline", "unet": ["x", "y"]}')
    cfg = DiffusionConfig(cache_dir=tiny_cache, device="cpu", batch_wait_timeout_s=0.2, models={"bad": str(broken)})
    engine = DiffusionEngine(cfg)
    fox = {"task_type": "text-to-image", "model": "tiny", "prompt": "a fox", **SMALL}
    # two requests arrive together: one call, and both wait for the one load
    first, second = await asyncio.gather(events_of(engine, fox), events_of(engine, {**fox, "prompt": "a hare"}))
    for events in (first, second):
        assert events[:2] == [{"loading": "tiny"}, {"loaded": "tiny"}], events
        assert len(events) == 3 and events[2]["result"]["images"]
    assert first[2]["result"]["batch_size"] == 2
    again = await events_of(engine, fox)  # loaded: nothing to wait for
    assert len(again) == 1 and again[0]["result"]["images"]
    failed = await events_of(engine, {**fox, "model": "bad"})  # a load that fails is not "loaded"
    assert failed[0] == {"loading": "bad"} and len(failed) == 2
    assert failed[1]["result"]["error"]["type"] == "execution_error"
    plain = await engine.submit(fox)  # without a listener: as before
    assert plain["images"]


def test_the_task_shows_its_model_loading_in_its_progress(tmp_path: Path, tiny_cache: Path) -> None:
    pytest.importorskip("torch")
    args = local_args(tmp_path, tiny_cache, diffusion={"default_steps": 2, "default_size": 64})
    with running_app(args) as app, httpx.Client(base_url=app.url, timeout=60) as client:

        def run(prompt: str) -> str:
            body = {"provider": "diffusers", "task_type": "text-to-image", "params": {"prompt": prompt}}
            task = client.post("/v1/tasks", json=body).json()
            deadline = time.monotonic() + 120
            while task["status"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, task
                task = client.get(f"/v1/tasks/{task['id']}", params={"wait": 30}).json()
            assert task["status"] == "succeeded", task
            return str(task["id"])

        cold = progress_of(client, run("a fox"))
        assert cold[:2] == [LOADING_PROGRESS, LOADED_PROGRESS] and cold[-1] >= 90, cold
        warm = progress_of(client, run("a hare"))
        assert LOADING_PROGRESS not in warm and LOADED_PROGRESS not in warm and warm[-1] >= 90, warm
