"""A store that lost its data is visible (real redis-server, flushed as a restart without persistence would):
``/health/ready`` fails with the reason, and a worker stops a job whose record is gone and cancels its vendor job
(the runner is told not to leave the vendor job alone, which is how ``VendorRunner`` decides to cancel it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from genpulse.core.config import StorageConfig, WorkersConfig
from genpulse.core.errors import ServiceUnavailable
from genpulse.core.schemas import Task
from genpulse.jobs.runners import RunContext
from genpulse.jobs.task_worker import TaskWorker
from genpulse.media.storage import open_storage
from genpulse.tasks.redis_store import RedisTaskStore
from genpulse.tasks.store_watch import StoreWatch
from tests.harness import local_args, running_app
from tests.support.tasks import make


class UntilCancelled:
    """A runner whose vendor job runs until it is cancelled; notes what the context said at that moment."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.abandoned: bool | None = None

    async def cancel_job(self, task: Task) -> bool:
        return False

    def wake(self, task_id: str) -> bool:
        return False

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.abandoned = ctx.abandoned
            raise
        return {}


async def test_a_worker_stops_a_job_whose_record_vanished(tmp_path: Path, redis_url: str) -> None:
    store = RedisTaskStore(redis_url)
    runner = UntilCancelled()
    storage = open_storage(StorageConfig(path=tmp_path / "data"))
    worker = TaskWorker("w-0", "diffusers", store, storage, runner, WorkersConfig(lease_ttl_s=0.3))
    try:
        task, _ = await store.create(make())
        await worker.submit(task.id)
        await asyncio.wait_for(runner.started.wait(), 5)
        redis.Redis.from_url(redis_url).flushall()  # the store restarted empty
        await asyncio.wait_for(worker.join(), 5)  # the next renewal finds the record gone
        assert runner.abandoned is False  # so the vendor job is cancelled, not left running (and billed)
    finally:
        await store.close()


def test_ready_fails_with_the_reason_once_the_store_lost_its_data(tmp_path: Path, redis_url: str) -> None:
    store = RedisTaskStore(redis_url)
    with running_app(local_args(tmp_path), store=store) as app, httpx.Client(base_url=app.url, timeout=30) as c:
        assert c.get("/health/ready").status_code == 200
        redis.Redis.from_url(redis_url).flushall()
        lost = c.get("/health/ready")
        assert lost.status_code == 503, lost.text
        assert "the task store lost its data (restarted empty)" in lost.json()["error"]["details"]["store"]


async def test_the_alert_ends_after_its_window(redis_url: str) -> None:
    clock = [0.0]
    store = RedisTaskStore(redis_url)
    watch = StoreWatch(store, alert_s=60, clock=lambda: clock[0])
    try:
        await watch.check()
        redis.Redis.from_url(redis_url).flushall()
        for at in (1.0, 59.0):
            clock[0] = at
            with pytest.raises(ServiceUnavailable, match="lost its data"):
                await watch.check()
        clock[0] = 61.0
        await watch.check()  # the new store is accepted
    finally:
        await store.close()
