"""End-to-end helpers for vendor tests: submit through the real HTTP API, wait, check the stored assets."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

TERMINAL = ("succeeded", "failed", "canceled")


def submit_and_wait(client: httpx.Client, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    r = client.post("/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/v1/tasks/{task_id}", params={"wait": 5}).json()
        if task["status"] in TERMINAL:
            return task
    raise AssertionError(f"task {task_id} did not finish in {timeout}s")


def assert_assets_are_ours(client: httpx.Client, task: dict[str, Any], vendor_url: str, content_type: str) -> None:
    """Succeeded, every output downloadable from us with the right type, and no vendor URL anywhere in it."""
    assert task["status"] == "succeeded", task
    assert task["provider_task_id"]
    result = json.dumps(task["result"])
    assert vendor_url not in result and "_files" not in result, result
    assert task["result"]["assets"]
    for asset in task["result"]["assets"]:
        assert asset["id"].startswith("ast_") and asset["content_type"] == content_type
        content = client.get(asset["url"])
        assert content.status_code == 200 and len(content.content) == asset["bytes"]
