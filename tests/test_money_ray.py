"""Billed exactly once, on a real Ray instance with a Redis store: 300 tasks for three tenants against the shared
fake vendor with random job failures, 5xx, 429s and ambiguous (504) submits, while a worker is killed and the app
is redeployed mid-run. Afterwards every tenant's books balance to the credit, and a revoked key is refused by
every ingress replica."""

from __future__ import annotations

import collections
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.env import VENDOR_AK, VENDOR_SK
from benchmarks.services import fake_vendor
from tests.conftest import RaySession, wait_for

pytestmark = pytest.mark.ray

ADMIN = "admin-key-for-the-money-test"
VIDEO = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "a fox", "duration": 5}}
PER_TASK = 6  # 1 + 5 s x 1
TASKS_PER_TENANT = 100


def deploy(args: dict[str, Any]) -> None:
    from ray import serve

    from deployments.app import build_app

    serve.run(build_app(args), name="genpulse", route_prefix="/")


def pages(client: httpx.Client, path: str, key: str, **filters: str) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        params = {"limit": 200, **filters} | ({"cursor": cursor} if cursor else {})
        page = client.get(path, params=params, headers={"Authorization": f"Bearer {key}"}).raise_for_status().json()
        out += page["data"]
        if not (cursor := page["next_cursor"]):
            return out


def test_three_tenants_are_billed_exactly_once_through_faults(
    ray_serve: RaySession, tmp_path: Path, redis_url: str
) -> None:
    import ray
    from ray import serve

    flags = {"fail_fraction": "0.1", "error_fraction": "0.1", "ambiguous_fraction": "0.05", "qps": "40"}
    with fake_vendor(duration="0.5", seed="7", **flags) as vendor:
        args: dict[str, Any] = {
            "namespace": f"money-{os.urandom(4).hex()}",
            "storage": {"path": str(tmp_path / "data")},
            "store": {"url": redis_url},
            "auth": {"mode": "keys", "admin_key": ADMIN},
            "pricing": {"kling": {"text-to-video": {"per_task": 1, "per_video_second": 1}}},
            "server": {"ingress_replicas": 2},
            "workers": {
                "lease_ttl_s": 3,
                "reconcile_interval_s": 0.5,
                "queued_grace_s": 1,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.5,
                "task_deadline_s": 300,
            },
            "providers": {
                "diffusers": {"enabled": False},
                "kling": {
                    "base_url": vendor.url,
                    "access_key": VENDOR_AK,
                    "secret_key": VENDOR_SK,
                    "poll_interval_s": 0.3,
                    "timeout_s": 5,  # a dying worker's submit lands within 3 x this, or never
                    "rps": 60,  # above the vendor's 40/s: some calls meet its 429s
                    "max_concurrent_jobs": 60,
                },
            },
        }
        deploy(args)
        try:
            with httpx.Client(base_url=ray_serve.base_url, timeout=120) as client:
                admin = {"Authorization": f"Bearer {ADMIN}"}
                keys: dict[str, str] = {}
                for name in ("a", "b", "c"):
                    t = client.post("/v1/admin/tenants", json={"name": name, "credits": 1000}, headers=admin).json()
                    keys[t["id"]] = client.post(f"/v1/admin/tenants/{t['id']}/keys", json={}, headers=admin).json()[
                        "key"
                    ]

                def submit(tenant: str) -> str:
                    r = client.post("/v1/tasks", json=VIDEO, headers={"Authorization": f"Bearer {keys[tenant]}"})
                    assert r.status_code == 202, r.text
                    return r.json()["id"]

                order = [t for _ in range(TASKS_PER_TENANT) for t in keys]
                with ThreadPoolExecutor(8) as pool:
                    first = list(pool.map(submit, order[:150]))
                    worker = ray.get_actor("genpulse-worker-kling-0", namespace=args["namespace"])
                    ray.kill(worker, no_restart=False)  # mid-run: Ray restarts it, it resumes its leases
                    second = list(pool.map(submit, order[150:]))
                args["providers"]["kling"]["timeout_s"] = 6  # a redeploy with a change: workers are replaced
                deploy(args)
                ids = first + second
                owner = dict(zip(ids, order, strict=True))

                def open_tasks() -> list[dict[str, Any]]:
                    return [t for key in keys.values() for s in ("queued", "running")
                            for t in pages(client, "/v1/tasks", key, status=s)]  # fmt: skip

                try:
                    wait_for(lambda: not open_tasks(), 240, 2.0, "every task to end")
                except AssertionError:
                    stuck = open_tasks()
                    raise AssertionError(f"{len(stuck)} tasks still open, e.g. {stuck[:2]}") from None
                for tenant, key in keys.items():
                    tasks = {t["id"]: t for t in pages(client, "/v1/tasks", key)}
                    assert set(tasks) == {i for i in ids if owner[i] == tenant}  # lists never leak
                    ledger = pages(client, "/v1/ledger", key)
                    by_task: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
                    for entry in ledger:
                        if entry["task_id"]:
                            by_task[entry["task_id"]][entry["kind"]] += 1
                    for task_id, task in tasks.items():
                        kinds = by_task[task_id]
                        assert kinds["hold"] == 1 and kinds["settle"] + kinds["refund"] == 1, (task, kinds)
                        assert (kinds["settle"] == 1) == (task["status"] == "succeeded")
                        assert task["billing"]["state"] == ("settled" if kinds["settle"] else "refunded")
                    settled = sum(e["amount"] for e in ledger if e["kind"] == "settle")
                    me = client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
                    assert me["balance"] == 1000 - settled and me["held"] == 0, me
                    succeeded = sum(t["status"] == "succeeded" for t in tasks.values())
                    assert settled == PER_TASK * succeeded
                    usage = client.get("/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()["data"]
                    assert sum(u["spend"] for u in usage) == settled
                    assert sum(u["succeeded"] + u["refunded"] for u in usage) == TASKS_PER_TENANT
                stats = httpx.get(f"{vendor.url}/__stats", timeout=10).json()
                assert stats["duplicate_external_ids"] == 0, stats
                assert stats["ambiguous_504"] > 0 and stats["http_500_injected"] > 0, stats  # the faults happened

                tenant, key = next(iter(keys.items()))
                (key_record,) = client.get(f"/v1/admin/tenants/{tenant}/keys", headers=admin).json()["data"]
                client.delete(f"/v1/admin/keys/{key_record['id']}", headers=admin).raise_for_status()
                started = time.monotonic()
                codes = {
                    client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code for _ in range(20)
                }
                assert codes == {401}, codes  # from the next request on, on both replicas
                assert time.monotonic() - started < 60
        finally:
            serve.delete("genpulse")
