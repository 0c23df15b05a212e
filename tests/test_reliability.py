"""Reliability of vendor jobs, in-process (no Ray): quotas, chaos, scale, cancel at the vendor.

The vendor is the Kling imitation (JWT checked as Kling does), wrapped by ``Metered`` to record every API call
and inject random 429/500 answers. The Ray-level guarantees (actor kills, redeploys) are in
``test_reliability_ray.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.schemas import TaskRequest, TaskStatus
from genpulse.wiring.in_process import LocalRuntime
from tests.conftest import free_port, wait_for
from tests.support.kling_runtime import AK, SK, VIDEO, Vendor, runtime, vendor
from tests.vendors.metered import max_per_second


@pytest.fixture
def kling() -> Iterator[Vendor]:
    yield from vendor()


async def run_all(rt: LocalRuntime, n: int, timeout: float = 120, **request: Any) -> list:
    svc = rt.service
    body = {"provider": "kling", "task_type": "text-to-video", "params": VIDEO, **request}
    tasks = [(await svc.submit(TaskRequest.model_validate(body)))[0] for _ in range(n)]
    return await asyncio.gather(*(svc.get(t.id, wait=timeout) for t in tasks))


@contextlib.contextmanager
def vendor_process(queue_s: float, run_s: float) -> Iterator[str]:
    """The metered Kling imitation in its own process (its clock is not starved by our GIL)."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.vendors.standalone", "--port", str(port), "--keys", json.dumps({AK: SK}),
           "--queue-s", str(queue_s), "--run-s", str(run_s)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/__meter", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 30, 0.1, "the vendor imitation")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_quota_is_never_exceeded_and_is_used(tmp_path: Path) -> None:
    with vendor_process(queue_s=0.2, run_s=0.6) as url:
        rt = runtime(tmp_path, url, rps=10, max_concurrent_jobs=5, poll_interval_s=0.05)
        done = await run_all(rt, 20)
        meter = httpx.get(f"{url}/__meter").json()
    assert all(t.status == TaskStatus.succeeded for t in done), [t.error for t in done]
    calls = sorted(meter["calls"])
    assert max_per_second(calls) <= 10  # per wall-clock second, as the vendor's quota counter counts
    achieved = (len(calls) - 1) / (calls[-1] - calls[0])
    assert achieved >= 0.9 * 10, f"achieved {achieved:.2f} req/s of 10"
    # vendor-side concurrency: a job is active from its creation until it finished at the vendor
    spans = sorted((created, created + 0.2 + 0.6) for created in meter["jobs"].values())
    assert max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans) <= 5


async def test_random_429_and_500_still_succeed(tmp_path: Path) -> None:
    for v in vendor(fault_rate=0.2):
        rt = runtime(tmp_path, v.url, rps=200, max_concurrent_jobs=20, poll_interval_s=0.1, workers={"max_attempts": 8})
        done = await run_all(rt, 30)
        assert [t.status for t in done] == [TaskStatus.succeeded] * 30, [t.error for t in done if t.error]
        assert v.metered.injected.get(429) and v.metered.injected.get(500)
        assert len(v.state.jobs) >= 30
        for t in done:
            assert t.result and t.result["assets"][0]["url"].startswith("/v1/assets/")  # re-hosted, not the vendor's


async def test_a_thousand_concurrent_jobs(tmp_path: Path) -> None:
    for v in vendor(queue_s=1.0, run_s=2.0):
        rt = runtime(tmp_path, v.url, rps=2000, max_concurrent_jobs=1000, poll_interval_s=1.0)
        started = time.monotonic()
        done = await run_all(rt, 1000, timeout=600)
        assert sum(t.status == TaskStatus.succeeded for t in done) == 1000
        assert len(v.state.jobs) == 1000  # one vendor submit per task
        print(f"1000 jobs of 3 s through one worker: {time.monotonic() - started:.1f}s")


async def test_cancel_stops_polling(tmp_path: Path) -> None:
    for v in vendor(queue_s=0.1, run_s=30):
        rt = runtime(tmp_path, v.url, poll_interval_s=0.05)
        svc = rt.service
        body = {"provider": "kling", "task_type": "text-to-video", "params": VIDEO}
        task, _ = await svc.submit(TaskRequest.model_validate(body))
        for _ in range(200):
            if (await svc.store.get(task.id)).provider_task_id:
                break
            await asyncio.sleep(0.02)
        canceled = await svc.cancel(task.id)
        assert canceled.status == TaskStatus.canceled
        await asyncio.sleep(0.2)
        seen = len(v.metered.calls)
        await asyncio.sleep(0.5)
        assert len(v.metered.calls) == seen  # no more polling after cancel
        assert not rt.workers["kling"][0].in_flight()
        assert (await rt.limiters["kling"].stats())["jobs_held"] == 0
