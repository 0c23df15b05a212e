"""The Serve app on a real (shared, single-node) Ray instance: the foundation's acceptance path."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import RaySession

pytestmark = pytest.mark.ray

FOX = {
    "provider": "diffusers",
    "task_type": "text-to-image",
    "params": {"prompt": "a red fox", "width": 64, "height": 64},
}


def deploy(session: RaySession, args: dict[str, Any], name: str = "genpulse") -> httpx.Client:
    from ray import serve

    from deployments.app import build_app

    serve.run(build_app(args), name=name, route_prefix="/")
    return httpx.Client(base_url=session.base_url, timeout=60)


def undeploy(name: str = "genpulse") -> None:
    from ray import serve

    serve.delete(name)


def app_args(tmp_path: Path, tiny_cache: Path, **extra: Any) -> dict[str, Any]:
    return {
        "namespace": f"t-{os.urandom(4).hex()}",
        "storage": {"path": str(tmp_path / "data")},
        "diffusion": {"cache_dir": str(tiny_cache), "default_steps": 4, "num_cpus": 0.5},
        **extra,
    }


@pytest.fixture
def actor_app(ray_serve: RaySession, tmp_path: Path, tiny_cache: Path) -> Iterator[httpx.Client]:
    client = deploy(ray_serve, app_args(tmp_path, tiny_cache))
    try:
        yield client
    finally:
        client.close()
        undeploy()


def test_submit_to_png_through_serve(actor_app: httpx.Client) -> None:
    r = actor_app.post("/v1/tasks", json=FOX)
    assert r.status_code == 202, r.text
    task = actor_app.get(f"/v1/tasks/{r.json()['id']}", params={"wait": 60}).json()
    assert task["status"] == "succeeded", task
    (asset,) = task["result"]["assets"]
    png = actor_app.get(asset["url"])
    assert png.status_code == 200
    with Image.open(io.BytesIO(png.content)) as img:
        assert img.format == "PNG" and img.size == (64, 64)
    ready = actor_app.get("/health/ready")
    assert ready.status_code == 200, ready.text
    # no vendor has credentials here, so no rate limiter runs and none is checked (actors only for configured ones)
    assert set(ready.json()["checks"]) == {"store", "storage", "workers", "diffusion"}
    bad = actor_app.post("/v1/tasks", json={**FOX, "provider": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["type"] == "invalid_request"


def test_redis_tasks_survive_redeploy(ray_serve: RaySession, tmp_path: Path, tiny_cache: Path, redis_url: str) -> None:
    args = app_args(tmp_path, tiny_cache, store={"url": redis_url})
    with deploy(ray_serve, args) as client:
        task_id = client.post("/v1/tasks", json=FOX).json()["id"]
        done = client.get(f"/v1/tasks/{task_id}", params={"wait": 60}).json()
        assert done["status"] == "succeeded", done
    undeploy()
    with deploy(ray_serve, {**args, "namespace": f"t-{os.urandom(4).hex()}"}) as client:
        again = client.get(f"/v1/tasks/{task_id}").json()
        assert again == done
        listed = client.get("/v1/tasks", params={"status": "succeeded"}).json()["data"]
        assert task_id in [t["id"] for t in listed]
        assert client.get(done["result"]["assets"][0]["url"]).status_code == 200
    undeploy()
