"""GenPulse metrics without a cluster: the in-process tallies behind ``ray.util.metrics``, and ``/metrics``."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from genpulse.api.routes.prometheus import render, store_families
from genpulse.core import metrics
from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ExecutionError, ProviderRateLimited
from genpulse.core.schemas import Task, TaskStatus, new_id, now
from genpulse.providers.ratelimit import RateLimiter
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.queue_stats import open_task_stats
from genpulse.tasks.redis_store import RedisTaskStore
from tests.conftest import free_port
from tests.harness import local_args, running_app


def png(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 40, 10)).save(buf, format="PNG")
    return buf.getvalue()


async def fake_generate(params: dict[str, Any]) -> dict[str, Any]:
    """Stands in for the diffusion replica: real PNG bytes, or a permanent failure for prompt ``boom``."""
    if params["prompt"] == "boom":
        raise ExecutionError("boom", retryable=False)
    return {"images": [png(params["width"])] * params["num_images"], "seed": 1}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metric_kinds_tally_in_process() -> None:
    c = metrics.Metric("counter", "t_counter", "d", ("a",))
    g = metrics.Metric("gauge", "t_gauge", "d", ("a",))
    h = metrics.Metric("histogram", "t_hist", "d", ("a",))
    for _ in range(3):
        c.record(2, a="x")
        g.record(7, a="x")
        h.record(0.2, a="x")
    g.record(1, a="x")
    assert (c.value(a="x"), g.value(a="x"), h.value(a="x"), c.value(a="y")) == (6, 1, 3, 0)


def test_timed_labels_the_outcome_by_error_class() -> None:
    h = metrics.Metric("histogram", "t_timed", "d", ("provider", "op", "outcome"))
    with metrics.timed(h, provider="p", op="poll"):
        pass
    with pytest.raises(ProviderRateLimited), metrics.timed(h, provider="p", op="poll"):
        raise ProviderRateLimited("slow down")
    with pytest.raises(KeyError), metrics.timed(h, provider="p", op="poll"):
        raise KeyError("x")
    assert h.value(provider="p", op="poll", outcome="ok") == 1
    assert h.value(provider="p", op="poll", outcome="provider_rate_limited") == 1
    assert h.value(provider="p", op="poll", outcome="KeyError") == 1


def test_worker_outcomes_bytes_and_store_gauges(tmp_path: Path) -> None:
    args = local_args(tmp_path, workers={"queued_grace_s": 3600})
    ok_before = metrics.TASKS.value(provider="diffusers", task_type="text-to-image", status="succeeded")
    failed_before = metrics.TASKS.value(provider="diffusers", task_type="text-to-image", status="failed")
    bytes_before = metrics.BYTES_STORED.value(provider="diffusers")
    store = MemoryTaskStore()
    parked = Task(
        id=new_id("tsk"),
        provider="diffusers",
        task_type="text-to-image",
        status=TaskStatus.queued,
        params={"prompt": "x"},
        created_at=now() - 42,
    )
    asyncio.run(store.create(parked))  # before the app starts: nobody waits on the store yet
    with (
        running_app(args, store=store, generate=fake_generate) as app,
        httpx.Client(base_url=app.url, timeout=30) as client,
    ):
        body = {"provider": "diffusers", "task_type": "text-to-image"}
        ids = [
            client.post("/v1/tasks", json={**body, "params": {"prompt": p, "width": 64, "height": 64}}).json()["id"]
            for p in ("a fox", "a cat", "boom")
        ]
        done = [client.get(f"/v1/tasks/{i}", params={"wait": 20}).json() for i in ids]
        assert [t["status"] for t in done] == ["succeeded", "succeeded", "failed"], done
        stored = sum(a["bytes"] for t in done[:2] for a in t["result"]["assets"])
        scraped = client.get("/metrics")
    assert metrics.TASKS.value(provider="diffusers", task_type="text-to-image", status="succeeded") == ok_before + 2
    assert metrics.TASKS.value(provider="diffusers", task_type="text-to-image", status="failed") == failed_before + 1
    assert metrics.BYTES_STORED.value(provider="diffusers") == bytes_before + stored
    worker = app.runtime.workers["diffusers"][0]
    assert metrics.JOBS_IN_FLIGHT.value(provider="diffusers", worker=worker.name) == 0
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    got = samples(scraped.text)
    assert got[("genpulse_store_up", ())] == 1
    assert got[("genpulse_store_tasks", (("provider", "diffusers"), ("status", "queued")))] == 1
    assert got[("genpulse_store_tasks", (("provider", "diffusers"), ("status", "running")))] == 0
    assert got[("genpulse_store_tasks", (("provider", "kling"), ("status", "queued")))] == 0
    assert got[("genpulse_store_oldest_queued_seconds", (("provider", "diffusers"),))] >= 42


async def test_reconcile_sets_queue_depth() -> None:
    from genpulse.core.config import WorkersConfig
    from genpulse.diffusion.diffusion_runner import DiffusionRunner
    from genpulse.diffusion.models import ModelCatalog
    from genpulse.jobs.task_worker import TaskWorker

    store = MemoryTaskStore()
    for _ in range(3):
        await store.create(
            Task(
                id=new_id("tsk"),
                provider="p-depth",
                task_type="t",
                status=TaskStatus.queued,
                params={},
                created_at=now(),
            )
        )
    runner = DiffusionRunner(fake_generate, ModelCatalog(DiffusionConfig()))
    worker = TaskWorker("w-depth", "p-depth", store, None, runner, WorkersConfig(queued_grace_s=60))  # type: ignore[arg-type]
    assert await worker.reconcile() == 0
    assert metrics.QUEUE_DEPTH.value(provider="p-depth", worker="w-depth") == 3


async def test_store_down_scrapes_as_up_zero() -> None:
    store = RedisTaskStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        got = samples(render(store_families(await open_task_stats(store), ["diffusers"])).decode())
    finally:
        await store.close()
    assert got[("genpulse_store_up", ())] == 0


async def test_metered_limiter_counts_waits_and_429s() -> None:
    limiter = metrics.MeteredLimiter(RateLimiter(rps=1000, max_concurrent_jobs=1), "p-limit")
    await limiter.acquire_request()
    await limiter.acquire_job("tsk_1")
    await limiter.report_429(0.01)
    await limiter.release_job("tsk_1")
    assert metrics.LIMITER_WAIT.value(provider="p-limit", kind="request") == 1
    assert metrics.LIMITER_WAIT.value(provider="p-limit", kind="job") == 1
    assert metrics.LIMITER_429.value(provider="p-limit") == 1


def test_diffusion_engine_records_batch_and_latency(tiny_cache: Path) -> None:
    from genpulse.diffusion.engine import DiffusionEngine

    engine = DiffusionEngine(DiffusionConfig(cache_dir=tiny_cache, default_steps=2))
    before = metrics.DIFFUSION_SECONDS.value(model="tiny", outcome="ok")
    out = engine.generate({"prompt": "a fox", "width": 64, "height": 64, "num_images": 2, "num_inference_steps": 2})
    assert len(out["images"]) == 2
    assert metrics.DIFFUSION_SECONDS.value(model="tiny", outcome="ok") == before + 1
    assert metrics.DIFFUSION_BATCH.value(model="tiny") >= 1
