"""The HTTP API as tenants and the admin use it in tests: an admin key, a client that checks status codes, a
tenant with credits and a key, a task body for the local diffusers provider, and a stand-in diffusion replica."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from genpulse.core.errors import ExecutionError
from tests.results_app import png

ADMIN = "admin-key-for-the-tenancy-tests"


async def fake_generate(params: dict[str, Any]) -> dict[str, Any]:
    """Stands in for the diffusion replica: ``boom`` fails, ``slow`` runs until canceled, ``short`` returns one
    image fewer than asked (a partial delivery is charged for what it delivered)."""
    if params["prompt"] == "boom":
        raise ExecutionError("boom", retryable=False)
    if params["prompt"] == "slow":
        await asyncio.sleep(120)
    n = params["num_images"] - (1 if params["prompt"] == "short" else 0)
    return {"images": [png(params["width"], params["height"], 1)] * n, "seed": 1}


def body(prompt: str = "a fox", n: int = 1, **extra: Any) -> dict[str, Any]:
    params = {"prompt": prompt, "width": 64, "height": 64, "num_images": n}
    return {"provider": "diffusers", "task_type": "text-to-image", "params": params, **extra}


class Api:
    def __init__(self, url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=url, timeout=60, headers=headers)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

    def finished(self, task_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while (task := self.ok("GET", f"/v1/tasks/{task_id}", params={"wait": 10}))["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, task
        return task


def tenant(admin: Api, url: str, credits: int, **key: Any) -> tuple[str, Api]:
    t = admin.ok("POST", "/v1/admin/tenants", 201, json={"name": f"t{credits}", "credits": credits})
    made = admin.ok("POST", f"/v1/admin/tenants/{t['id']}/keys", 201, json=key)
    assert made["key"].startswith("gp_") and made["prefix"] == made["key"][:10]
    return t["id"], Api(url, made["key"])
