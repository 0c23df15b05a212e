"""Vendor jobs survive their owners on a real Ray instance: worker kills (with and without restart) and an app
redeploy mid-job. Every task completes and the vendor sees exactly one submit per task."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RaySession, wait_for
from tests.vendors.kling import KlingState, build_app
from tests.vendors.server import serve_asgi

pytestmark = pytest.mark.ray

AK, SK = "ak-ray", "sk-ray"
VIDEO = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "a fox in snow", "duration": 5}}


@pytest.fixture
def kling() -> Iterator[tuple[KlingState, str]]:
    state = KlingState({AK: SK}, queue_s=0.5, run_s=4.0)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


def args_for(tmp_path: Path, url: str) -> dict[str, Any]:
    return {
        "namespace": f"rel-{os.urandom(4).hex()}",
        "storage": {"path": str(tmp_path / "data")},
        "workers": {"lease_ttl_s": 2, "reconcile_interval_s": 0.5, "queued_grace_s": 1},
        "providers": {
            "diffusers": {"enabled": False},
            "kling": {"base_url": url, "access_key": AK, "secret_key": SK, "poll_interval_s": 0.3},
        },
    }


def deploy(args: dict[str, Any]) -> None:
    from ray import serve

    from deployments.app import build_app as build

    serve.run(build(args), name="genpulse", route_prefix="/")


def submit_and_wait_for_vendor_jobs(client: httpx.Client, n: int) -> list[str]:
    ids = [client.post("/v1/tasks", json=VIDEO).json()["id"] for _ in range(n)]
    wait_for(
        lambda: all(client.get(f"/v1/tasks/{i}").json()["provider_task_id"] for i in ids), 30, 0.1, "vendor job ids"
    )
    return ids


def all_succeed(client: httpx.Client, ids: list[str], timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    out = []
    for task_id in ids:
        task = client.get(f"/v1/tasks/{task_id}", params={"wait": max(1.0, deadline - time.monotonic())}).json()
        assert task["status"] == "succeeded", task
        out.append(task)
    return out


@pytest.mark.parametrize("restart", [True, False], ids=["restarted", "replaced"])
def test_worker_killed_mid_job(
    ray_serve: RaySession, tmp_path: Path, kling: tuple[KlingState, str], restart: bool
) -> None:
    import ray
    from ray import serve

    state, url = kling
    args = args_for(tmp_path, url)
    deploy(args)
    try:
        with httpx.Client(base_url=ray_serve.base_url, timeout=120) as client:
            ids = submit_and_wait_for_vendor_jobs(client, 3)
            worker = ray.get_actor("genpulse-worker-kling-0", namespace=args["namespace"])
            ray.kill(worker, no_restart=not restart)
            done = all_succeed(client, ids)
        assert len(state.jobs) == 3  # resumed from the checkpointed job ids, never resubmitted
        assert sorted(t["provider_task_id"] for t in done) == sorted(state.jobs)
        assert all(t["attempts"] == 2 for t in done)
    finally:
        serve.delete("genpulse")


def test_worker_killed_mid_submit_is_reconciled_not_resubmitted(ray_serve: RaySession, tmp_path: Path) -> None:
    """The shared fake vendor holds a submit's answer after making the job; the worker is killed meanwhile.
    Its restart finds the job by our task id (``external_task_id``) instead of submitting again."""
    import ray
    from ray import serve

    from benchmarks.env import VENDOR_AK, VENDOR_SK
    from benchmarks.services import fake_vendor

    with fake_vendor(duration="1", submit_delay="4") as vendor:
        args = args_for(tmp_path, vendor.url)
        args["providers"]["kling"].update(access_key=VENDOR_AK, secret_key=VENDOR_SK)
        deploy(args)
        try:
            with httpx.Client(base_url=ray_serve.base_url, timeout=120) as client:
                task_id = client.post("/v1/tasks", json=VIDEO).json()["id"]
                stats = lambda: httpx.get(f"{vendor.url}/__stats", timeout=10).json()  # noqa: E731
                wait_for(lambda: stats()["submits"] == 1, 30, 0.05, "the vendor's job")
                for actor in ray.util.list_named_actors(all_namespaces=True):
                    if actor["namespace"] == args["namespace"] and actor["name"].startswith("genpulse-worker-kling"):
                        ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=False)
                (done,) = all_succeed(client, [task_id])
            counts = stats()
            assert counts["submits"] == 1 and counts["duplicate_external_ids"] == 0, counts
            assert done["attempts"] == 2 and done["provider_task_id"]
        finally:
            serve.delete("genpulse")


def test_app_redeployed_mid_job(ray_serve: RaySession, tmp_path: Path, kling: tuple[KlingState, str]) -> None:
    """A redeploy with new config reaches the running workers (replaced, their jobs adopted, none submitted
    twice) and limits changed at run time survive later ingress replicas until a deploy changes them."""
    import ray
    from ray import serve

    from deployments.versions import fingerprint
    from genpulse.core.config import AppArgs

    state, url = kling
    args = args_for(tmp_path, url)
    deploy(args)
    try:
        with httpx.Client(base_url=ray_serve.base_url, timeout=120) as client:
            ids = submit_and_wait_for_vendor_jobs(client, 3)
            system_report_reaches_the_actors(client)
            serve.delete("genpulse")
            args["providers"]["kling"]["timeout_s"] = 20  # a config change the running workers must get
            deploy(args)
            worker = ray.get_actor("genpulse-worker-kling-0", namespace=args["namespace"])
            assert ray.get(worker.ping.remote())["deploy"] == fingerprint(AppArgs.load(args))
            done = all_succeed(client, ids)
        assert len(state.jobs) == 3
        assert all(t["result"]["assets"][0]["url"].startswith("/v1/assets/") for t in done)
        limits_cli_changes_the_running_limiter(args["namespace"])
        serve.delete("genpulse")
        deploy(args)  # the same deploy again: the limits set at run time stand
        limiter = ray.get_actor("genpulse-limiter-kling", namespace=args["namespace"])
        assert ray.get(limiter.stats.remote())["rps"] == 3
        args["providers"]["kling"]["rps"] = 7  # a deploy that changes the limits wins
        deploy(args)
        wait_for(lambda: ray.get(limiter.stats.remote())["rps"] == 7, 60, 0.2, "the deployed rps")
    finally:
        serve.delete("genpulse")


def system_report_reaches_the_actors(client: httpx.Client) -> None:
    """``GET /v1/admin/system`` (auth off: the caller is the admin) gathers the 3 running vendor jobs from the kling
    limiter actor (their job slots) and from the kling worker actor (the tasks it drives)."""
    report = client.get("/v1/admin/system")
    assert report.status_code == 200, report.text
    kling = next(p for p in report.json()["providers"] if p["provider"] == "kling")
    assert kling["limiter"]["jobs_held"] == 3 and kling["limiter"]["max_concurrent_jobs"] == 10, kling
    assert [(w["name"], w["in_flight"]) for w in kling["workers"]] == [("genpulse-worker-kling-0", 3)], kling
    assert kling["running"] == 3 and report.json()["store"] == "ActorTaskStore"


def limits_cli_changes_the_running_limiter(namespace: str) -> None:
    import json
    import subprocess
    import sys

    import ray

    gcs = ray.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "genpulse.cli", "limits", "kling", "--rps", "3", "--max-concurrent-jobs", "2",
           "--namespace", namespace, "--ray-address", gcs]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    stats = json.loads(out[out.index("{") :])
    assert stats["rps"] == 3 and stats["max_concurrent_jobs"] == 2
    limiter = ray.get_actor("genpulse-limiter-kling", namespace=namespace)
    assert ray.get(limiter.stats.remote())["rps"] == 3


def test_pipeline_runs_its_steps_through_the_worker_pools(
    ray_serve: RaySession, tmp_path: Path, kling: tuple[KlingState, str]
) -> None:
    """text-to-image-to-video on Serve: the pipeline worker submits child tasks to the kling pool (image, then
    video on the fitted frame, a Ray task); all steps end as our Assets."""
    from ray import serve

    state, url = kling
    deploy(args_for(tmp_path, url))
    try:
        with httpx.Client(base_url=ray_serve.base_url, timeout=120) as client:
            body = {
                "provider": "pipeline",
                "task_type": "text-to-image-to-video",
                "params": {"prompt": "a lighthouse", "image_provider": "kling", "video_params": {"mode": "std"}},
            }
            r = client.post("/v1/tasks", json=body)
            assert r.status_code == 202, r.text
            (done,) = all_succeed(client, [r.json()["id"]], timeout=120)
        assert [s["name"] for s in done["result"]["steps"]] == ["image", "frame", "video"]
        assert [r["path"] for r in state.requests] == ["images/generations", "videos/image2video"]
        video = httpx.get(ray_serve.base_url + done["result"]["assets"][0]["url"], timeout=30)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    finally:
        serve.delete("genpulse")
