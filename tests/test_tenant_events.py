"""The tenant event log (every store: memory, real Redis, the Ray actor) and ``GET /v1/events`` over real HTTP:
every status and progress change of the caller's tasks, only theirs, resumable with ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.schemas import TaskStatus
from genpulse.tasks import TaskStore
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.store import TENANT_EVENT_HISTORY
from genpulse.tasks.tenant_sse import tenant_events
from tests.harness import RunningApp, local_args, running_app
from tests.support.tasks import make
from tests.support.tenant_api import ADMIN, Api, body, fake_generate, tenant


def owned(tenant_id: str) -> Any:
    return make().model_copy(update={"tenant_id": tenant_id})


async def test_every_change_of_a_tenants_tasks_is_logged_in_order(store: TaskStore) -> None:
    a, _ = await store.create(owned("ten_a"))
    await store.create(owned("ten_b"))
    running = await store.put(a.model_copy(update={"status": TaskStatus.running}))
    renewed = await store.put(running.model_copy(update={"lease_until": 1.0}))  # no status/progress change
    half = await store.put(renewed.model_copy(update={"progress": 0.5}))
    await store.put(half.model_copy(update={"status": TaskStatus.succeeded, "progress": 1.0}))
    events = await store.tenant_events("ten_a")
    assert [(e.seq, e.status, e.progress) for e in events] == [
        (1, TaskStatus.queued, None),
        (2, TaskStatus.running, None),
        (3, TaskStatus.running, 0.5),
        (4, TaskStatus.succeeded, 1.0),
    ]
    assert {e.task_id for e in events} == {a.id} and events[-1].version == 5
    assert events[0].provider == "diffusers" and events[0].task_type == "text-to-image"
    assert [e.seq for e in await store.tenant_events("ten_a", after=2)] == [3, 4]
    assert [e.seq for e in await store.tenant_events("ten_b")] == [1]
    assert await store.tenant_events("ten_c") == []
    assert (await store.tenant_event_seq("ten_a"), await store.tenant_event_seq("ten_c")) == (4, 0)


async def test_tenant_events_waits_for_the_next_change(store: TaskStore) -> None:
    started = time.monotonic()
    assert await store.tenant_events("ten_w", timeout=0.2) == []
    assert time.monotonic() - started >= 0.15
    waiting = asyncio.create_task(store.tenant_events("ten_w", timeout=10))
    await asyncio.sleep(0.1)
    made, _ = await store.create(owned("ten_w"))
    got = await asyncio.wait_for(waiting, 5)
    assert [(e.seq, e.task_id) for e in got] == [(1, made.id)]


async def test_a_resume_past_trimmed_history_starts_with_reset() -> None:
    store = MemoryTaskStore()
    task, _ = await store.create(owned("ten_r"))
    for i in range(TENANT_EVENT_HISTORY + 5):
        task = await store.put(task.model_copy(update={"progress": i / 10_000}))
    frames = tenant_events(store, "ten_r", after=2, heartbeat_s=0.1)
    assert (await anext(frames)).startswith(b"retry:")
    reset = (await anext(frames)).decode()
    assert "event: reset" in reset and '"after":2' in reset
    assert "event: task" in (await anext(frames)).decode()
    await frames.aclose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RunningApp]:
    args = local_args(tmp_path, auth={"mode": "keys", "admin_key": ADMIN}, server={"sse_heartbeat_s": 0.5})
    with running_app(args, generate=fake_generate) as running:
        yield running


def read_events(
    url: str, key: str, headers: dict[str, str] | None = None, started: threading.Event | None = None
) -> list[dict[str, Any]]:
    """``task`` events of ``GET /v1/events`` up to the first terminal one; ``started`` is set at ``ready``."""
    got: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {key}", **(headers or {})}
    with httpx.stream("GET", f"{url}/v1/events", headers=auth, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        frame: dict[str, str] = {}
        for line in r.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                frame[name] = value
                continue
            if frame.get("event") == "ready" and started is not None:
                started.set()
            if frame.get("event") == "task":
                got.append({"id": int(frame["id"]), **json.loads(frame["data"])})
                if got[-1]["status"] in ("succeeded", "failed", "canceled"):
                    return got
            frame = {}
    return got


def test_the_stream_carries_the_callers_tasks_only_and_resumes(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, mine = tenant(admin, app.url, 0)
    _, theirs = tenant(admin, app.url, 0)
    theirs.ok("POST", "/v1/tasks", 202, json=body("not yours"))
    task = mine.ok("POST", "/v1/tasks", 202, json=body())
    mine.finished(task["id"])
    key = str(mine.http.headers["Authorization"]).removeprefix("Bearer ")
    events = read_events(app.url, key, headers={"Last-Event-ID": "0"})
    assert {e["task_id"] for e in events} == {task["id"]}
    statuses = [e["status"] for e in events]
    assert statuses[:2] == ["queued", "running"] and set(statuses[2:-1]) <= {"running"}
    assert statuses[-1] == "succeeded"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    resumed = read_events(app.url, key, headers={"Last-Event-ID": str(len(events) - 1)})
    assert [(e["id"], e["status"]) for e in resumed] == [(len(events), "succeeded")]
    assert admin.http.get("/v1/events").status_code == 403
    assert httpx.get(f"{app.url}/v1/events").status_code == 401
    assert mine.http.get("/v1/events", headers={"Last-Event-ID": "x"}).status_code == 400


def test_without_last_event_id_the_stream_starts_now(app: RunningApp) -> None:
    admin = Api(app.url, ADMIN)
    _, mine = tenant(admin, app.url, 0)
    earlier = mine.ok("POST", "/v1/tasks", 202, json=body())
    mine.finished(earlier["id"])
    key = str(mine.http.headers["Authorization"]).removeprefix("Bearer ")
    started = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read_events, app.url, key, None, started)
        assert started.wait(10)
        later = mine.ok("POST", "/v1/tasks", 202, json=body())
        events = reading.result(timeout=30)
    assert {e["task_id"] for e in events} == {later["id"]} and events[0]["status"] == "queued"
