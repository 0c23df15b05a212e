"""Local diffusion on real Serve replicas: multiplexed models, batched calls, a tiny-video MP4, a model's load
shown in its task's progress (one short test)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.diffusion.diffusion_runner import LOADED_PROGRESS, LOADING_PROGRESS
from tests.conftest import RaySession
from tests.support.tasks import progress_of

pytestmark = pytest.mark.ray


def test_models_share_a_replica_and_concurrent_requests_share_calls(
    ray_serve: RaySession, tmp_path: Path, tiny_cache: Path
) -> None:
    pytest.importorskip("av")
    from ray import serve

    from deployments.app import build_app
    from genpulse.diffusion.mp4 import decode_mp4

    args = {
        "namespace": f"t-{os.urandom(4).hex()}",
        "storage": {"path": str(tmp_path / "data")},
        "diffusion": {"cache_dir": str(tiny_cache), "default_steps": 2, "default_size": 64, "num_cpus": 0.5,
                      "max_ongoing_requests": 8, "max_batch_size": 8, "batch_wait_timeout_s": 0.5,
                      "max_models_per_replica": 2},
    }  # fmt: skip
    serve.run(build_app(args), name="diffusion-models", route_prefix="/")
    try:
        with httpx.Client(base_url=ray_serve.base_url, timeout=120) as client:

            def run(task_type: str, params: dict[str, Any]) -> dict[str, Any]:
                body = {"provider": "diffusers", "task_type": task_type, "params": params}
                task = client.post("/v1/tasks", json=body, headers={"Prefer": "wait=60"}).json()
                while task.get("status") not in ("succeeded", "failed"):
                    task = client.get(f"/v1/tasks/{task['id']}", params={"wait": 60}).json()
                assert task["status"] == "succeeded", task
                return {**task["result"], "task_id": task["id"]}

            with ThreadPoolExecutor(8) as pool:
                images = list(pool.map(lambda i: run("text-to-image", {"prompt": f"fox {i}", "seed": i}), range(8)))
            assert max(r["batch_size"] for r in images) > 1, [r["batch_size"] for r in images]
            video = run("text-to-video", {"prompt": "a fox running", "num_frames": 3})
            assert video["model"] == "tiny-video"
            # tiny-video loaded on demand (warm-up loads only the default): its task showed the load
            assert progress_of(client, video["task_id"])[:2] == [LOADING_PROGRESS, LOADED_PROGRESS]
            assert decode_mp4(client.get(video["assets"][0]["url"]).content) == (3, 64, 64, "h264")
            again = run("text-to-image", {"prompt": "fox 3", "seed": 3})
            assert again["model"] == "tiny"
            providers = {p["name"]: p for p in client.get("/v1/providers").json()["data"]}
            assert set(providers["diffusers"]["limits"]["models"]) == {"tiny", "tiny-video"}
    finally:
        serve.delete("diffusion-models")
