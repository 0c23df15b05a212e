"""One vendor end to end through the real HTTP API (in-process app, real TaskWorkers) against its imitation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.harness import local_args, running_app
from tests.vendors.live import assert_assets_are_ours, submit_and_wait


def submit_and_finish(
    tmp_path: Path,
    provider: str,
    config: dict[str, Any],
    task_type: str,
    params: dict[str, Any],
    vendor_url: str,
    content_type: str,
) -> dict[str, Any]:
    """Submit one task, wait until it ends, check it succeeded with our Assets only; return the task."""
    args = local_args(tmp_path, providers={provider: {"rps": 100, "poll_interval_s": 0.1, **config}})
    with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as client:
        listing = {p["name"]: p for p in client.get("/v1/providers").json()["data"]}
        assert listing[provider]["configured"] is True and task_type in listing[provider]["task_types"]
        schema = client.get(f"/meta/schemas/{provider}")
        assert schema.status_code == 200 and "properties" in schema.json()["task_types"][task_type]
        task = submit_and_wait(client, {"provider": provider, "task_type": task_type, "params": params})
        assert_assets_are_ours(client, task, vendor_url, content_type)
        return task


def outlive_deadline(
    tmp_path: Path, provider: str, config: dict[str, Any], task_type: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Submit a task with a 1 s deadline to a vendor job that never ends; return the failed task."""
    args = local_args(tmp_path, providers={provider: {"rps": 100, "poll_interval_s": 0.1, **config}})
    with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as client:
        body = {"provider": provider, "task_type": task_type, "params": params, "deadline_s": 1.0}
        task = submit_and_wait(client, body)
        assert task["status"] == "failed" and task["error"]["type"] == "provider_timeout", task
        return task


def unconfigured_submit(tmp_path: Path, provider: str, task_type: str, params: dict[str, Any]) -> httpx.Response:
    """Submit to a provider with no credentials/servers: the answer must be a 4xx, not a failed task later."""
    with running_app(local_args(tmp_path)) as app, httpx.Client(base_url=app.url, timeout=30) as client:
        return client.post("/v1/tasks", json={"provider": provider, "task_type": task_type, "params": params})
