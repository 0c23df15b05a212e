"""The TaskStore contract, run against every implementation: memory, the Ray actor, and a real redis-server
(the parametrized `store` fixture is in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from genpulse.core.errors import Conflict, NotFound, ServiceUnavailable
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks import TaskStore, mutate
from tests.conftest import free_port
from tests.support.tasks import make


async def test_create_get_roundtrip(store: TaskStore) -> None:
    task, created = await store.create(make())
    assert created and task.version == 1
    got = await store.get(task.id)
    assert got == task


async def test_unknown_id_is_not_found(store: TaskStore) -> None:
    with pytest.raises(NotFound):
        await store.get("tsk_000000000000000000000000")
    with pytest.raises(NotFound):
        await store.put(make())


async def test_put_is_compare_and_set(store: TaskStore) -> None:
    task, _ = await store.create(make())
    first = task.model_copy(update={"status": TaskStatus.running, "owner": "w1"})
    written = await store.put(first)
    assert written.version == 2 and written.owner == "w1"
    stale = task.model_copy(update={"status": TaskStatus.running, "owner": "w2"})
    with pytest.raises(Conflict):
        await store.put(stale)
    assert (await store.get(task.id)).owner == "w1"


async def test_terminal_states_never_change(store: TaskStore) -> None:
    task, _ = await store.create(make())
    done = await store.put(task.model_copy(update={"status": TaskStatus.succeeded}))
    for status in (TaskStatus.running, TaskStatus.queued, TaskStatus.failed, TaskStatus.succeeded):
        with pytest.raises(Conflict):
            await store.put(done.model_copy(update={"status": status}))
    assert (await store.get(task.id)).version == done.version


async def test_concurrent_mutations_all_apply(store: TaskStore) -> None:
    task, _ = await store.create(make())

    def bump(t: Task) -> Task:
        t.attempts += 1
        return t

    await asyncio.gather(*(mutate(store, task.id, bump) for _ in range(10)))
    final = await store.get(task.id)
    assert final.attempts == 10 and final.version == 11


async def test_idempotency_key(store: TaskStore) -> None:
    key = f"k-{os.urandom(4).hex()}"
    first, created = await store.create(make(key=key, fp="A"))
    again, created_again = await store.create(make(key=key, fp="A"))
    assert created and not created_again and again.id == first.id
    with pytest.raises(Conflict):
        await store.create(make(key=key, fp="B"))


async def test_events_one_per_change(store: TaskStore) -> None:
    task, _ = await store.create(make())
    t = await store.put(task.model_copy(update={"status": TaskStatus.running}))
    t = await store.put(t.model_copy(update={"progress": 50.0}))
    await store.put(t.model_copy(update={"status": TaskStatus.succeeded, "progress": 100.0}))
    events = await store.events(task.id)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.status for e in events] == ["queued", "running", "running", "succeeded"]
    assert [e.seq for e in await store.events(task.id, after_version=2)] == [3, 4]


async def test_wait_wakes_on_change_not_on_timeout(store: TaskStore) -> None:
    task, _ = await store.create(make())

    async def later() -> None:
        await asyncio.sleep(0.3)
        await store.put(task.model_copy(update={"status": TaskStatus.running}))

    writer = asyncio.create_task(later())
    started = time.monotonic()
    woke = await store.wait(task.id, after_version=1, timeout=10)
    elapsed = time.monotonic() - started
    await writer
    assert woke.version == 2 and woke.status == TaskStatus.running
    assert 0.2 < elapsed < 2.0
    started = time.monotonic()
    same = await store.wait(task.id, after_version=2, timeout=0.3)
    assert same.version == 2 and time.monotonic() - started >= 0.25


async def test_list_filters_and_paginates(store: TaskStore) -> None:
    tag = os.urandom(3).hex()
    ids = []
    for i in range(7):
        t, _ = await store.create(make(provider=f"p{tag}" if i % 2 == 0 else f"q{tag}"))
        ids.append(t.id)
        await asyncio.sleep(0.002)
    first = await store.get(ids[0])
    await store.put(first.model_copy(update={"status": TaskStatus.failed}))

    page, cursor = await store.list(provider=f"p{tag}", limit=2)
    seen = [t.id for t in page]
    while cursor:
        page, cursor = await store.list(provider=f"p{tag}", limit=2, cursor=cursor)
        seen += [t.id for t in page]
    assert seen == [ids[6], ids[4], ids[2], ids[0]]  # newest first, every one exactly once

    failed, _ = await store.list(status=TaskStatus.failed, provider=f"p{tag}")
    assert [t.id for t in failed] == [ids[0]]
    queued, _ = await store.list(status=TaskStatus.queued, provider=f"p{tag}")
    assert [t.id for t in queued] == [ids[6], ids[4], ids[2]]


async def test_ping(store: TaskStore) -> None:
    assert await store.ping() is None  # up: answers, with nothing
    task, _ = await store.create(make())
    assert await store.ping() is None and await store.get(task.id) == task  # and leaves the data alone


async def test_ping_raises_service_unavailable_while_redis_is_down() -> None:
    from genpulse.tasks.redis_store import RedisTaskStore

    store = RedisTaskStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        with pytest.raises(ServiceUnavailable, match="redis unavailable"):
            await store.ping()
    finally:
        await store.close()
