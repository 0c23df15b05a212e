"""The TaskStore contract, run against every implementation: memory, the Ray actor, and a real redis-server
(the parametrized `store` fixture is in conftest.py; `aging` below makes one with a short retention and a way to
let time pass: the memory store's clock is moved, the others really wait half a second)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from genpulse.core.errors import Conflict, NotFound, ServiceUnavailable
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks import TaskStore, mutate
from tests.conftest import free_port
from tests.support.tasks import make

RETENTION_S, KEY_TTL_S = 0.5, 1.0  # on the memory store's own clock
REAL_RETENTION_S, REAL_KEY_TTL_S = 2.0, 4.0  # Redis and the actor: wall-clock seconds
HOOK = "https://hooks.example.com/genpulse"


@dataclass
class Aging:
    """A store with short retentions; ``advance`` moves its clock (memory) or waits (Redis, actor: real time,
    so their retentions are longer, and a check that must happen *within* a retention is only asserted when
    the machine was quick enough to make it in time: ``in_time``)."""

    store: TaskStore
    advance: Callable[[float], Awaitable[None]]
    retention_s: float = RETENTION_S
    key_ttl_s: float = KEY_TTL_S
    real_time: bool = False

    def started(self) -> float:
        return time.monotonic()

    def in_time(self, started: float, window: float) -> bool:
        return not self.real_time or time.monotonic() - started < window * 0.8


@pytest.fixture(params=["memory", "redis", pytest.param("actor", marks=pytest.mark.ray)])
async def aging(request: pytest.FixtureRequest) -> AsyncIterator[Aging]:
    """A store keeping terminal tasks ``RETENTION_S`` and idempotency keys ``KEY_TTL_S``."""
    if request.param == "memory":
        from genpulse.tasks.memory_store import MemoryTaskStore

        clock = [time.time()]

        async def move(seconds: float) -> None:
            clock[0] += seconds

        options = {"retention_s": RETENTION_S, "idempotency_ttl_s": KEY_TTL_S}
        yield Aging(MemoryTaskStore(clock=lambda: clock[0], **options), move)
        return
    options = {"retention_s": REAL_RETENTION_S, "idempotency_ttl_s": REAL_KEY_TTL_S}
    if request.param == "redis":
        from genpulse.tasks.redis_store import RedisTaskStore

        s: TaskStore = RedisTaskStore(request.getfixturevalue("redis_url"), **options)
    else:
        request.getfixturevalue("ray_serve")
        from genpulse.tasks.actor_store import ActorTaskStore

        s = ActorTaskStore.connect(f"aging-{os.urandom(4).hex()}", **options)
    yield Aging(s, asyncio.sleep, REAL_RETENTION_S, REAL_KEY_TTL_S, real_time=True)
    await s.close()


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


async def test_a_canceled_task_takes_only_the_release_of_its_owner(store: TaskStore) -> None:
    """Its vendor job cancelled, the owner is released (jobs/cancel_sweep.py); nothing else ever changes."""
    task, _ = await store.create(make())
    running = await store.put(task.model_copy(update={"status": TaskStatus.running, "owner": "w1#a"}))
    canceled = await store.put(running.model_copy(update={"status": TaskStatus.canceled}))
    for change in ({"owner": None, "progress": 50.0}, {"owner": "w2"}, {"status": TaskStatus.failed, "owner": None}):
        with pytest.raises(Conflict):
            await store.put(canceled.model_copy(update=change))
    released = await store.put(canceled.model_copy(update={"owner": None}))
    assert released.owner is None and released.status == TaskStatus.canceled
    assert released.version == canceled.version + 1
    assert [e.status for e in await store.events(task.id)][-1] == TaskStatus.canceled
    with pytest.raises(Conflict):  # released once: a succeeded or released record takes nothing
        await store.put(released.model_copy(update={"owner": None}))


async def test_concurrent_mutations_all_apply(store: TaskStore) -> None:
    task, _ = await store.create(make())

    def bump(t: Task) -> Task:
        t.attempts += 1
        return t

    await asyncio.gather(*(mutate(store, task.id, bump) for _ in range(10)))
    final = await store.get(task.id)
    assert final.attempts == 10 and final.version == 11


async def test_mutate_from_a_known_copy_writes_once_and_a_stale_copy_decides_nothing(store: TaskStore) -> None:
    task, _ = await store.create(make())

    def bump(t: Task) -> Task:
        t.attempts += 1
        return t

    fresh = await mutate(store, task.id, bump, known=task)  # the caller's copy is current: written as it was
    assert fresh is not None and fresh.attempts == 1 and fresh.version == task.version + 1
    again = await mutate(store, task.id, bump, known=task)  # stale: loses its CAS, applies to the stored one
    assert again is not None and again.attempts == 2 and again.version == fresh.version + 1
    stale = task.model_copy(update={"status": TaskStatus.failed})  # a copy on which the change would give up ...
    kept = await mutate(store, task.id, lambda t: None if t.is_terminal else bump(t), known=stale)
    assert kept is not None and kept.attempts == 3  # ... is decided again on the stored task


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


async def test_a_failover_write_moves_the_task_to_the_other_providers_lists(store: TaskStore) -> None:
    """A task that failed over (jobs/failover.py) is listed under its new provider only, for every filter."""
    tag = os.urandom(3).hex()
    task, _ = await store.create(make(provider=f"a{tag}"))
    running = await store.put(task.model_copy(update={"status": TaskStatus.running, "owner": "w1#a"}))
    moved = await store.put(running.model_copy(update={"status": TaskStatus.queued, "owner": None,
                                                       "provider": f"b{tag}"}))  # fmt: skip
    tenant = moved.tenant_id
    for filters in ({}, {"tenant": tenant}):
        for status in (None, TaskStatus.queued, TaskStatus.running):
            old, _ = await store.list(status=status, provider=f"a{tag}", **filters)  # type: ignore[arg-type]
            assert old == [], (filters, status)
        new, _ = await store.list(provider=f"b{tag}", **filters)  # type: ignore[arg-type]
        assert [t.id for t in new] == [task.id] and new[0].provider == f"b{tag}"
        queued, _ = await store.list(status=TaskStatus.queued, provider=f"b{tag}", **filters)  # type: ignore[arg-type]
        assert [t.id for t in queued] == [task.id]


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


async def test_reused_key_conflict_does_not_name_the_other_task(store: TaskStore) -> None:
    key = f"k-{os.urandom(4).hex()}"
    first, _ = await store.create(make(key=key, fp="A"))
    with pytest.raises(Conflict) as refused:
        await store.create(make(key=key, fp="B"))
    assert first.id not in f"{refused.value.message} {refused.value.details}"  # what the 409 body shows


async def test_writes_that_change_neither_status_nor_progress_record_no_event(store: TaskStore) -> None:
    task, _ = await store.create(make())
    t = await store.put(task.model_copy(update={"status": TaskStatus.running, "owner": "w"}))
    for _ in range(5):  # lease renewals
        t = await store.put(t.model_copy(update={"lease_expires_at": time.time() + 30}))
    t = await store.put(t.model_copy(update={"progress": 10.0}))
    assert t.version == 8
    assert [e.seq for e in await store.events(task.id)] == [1, 2, 8]
    assert (await store.wait(task.id, after_version=2, timeout=5)).version == 8  # newer already: at once


async def test_epoch_is_stable_while_the_data_lasts(store: TaskStore) -> None:
    first = await store.epoch()
    await store.create(make())
    assert isinstance(first, str) and first and await store.epoch() == first


async def test_terminal_tasks_are_deleted_after_the_retention(aging: Aging) -> None:
    store = aging.store
    tag = f"p{os.urandom(3).hex()}"
    live, _ = await store.create(make(provider=tag))
    done, _ = await store.create(make(provider=tag).model_copy(update={"webhook_url": HOOK}))
    ended = aging.started()
    done = await store.put(done.model_copy(update={"status": TaskStatus.failed}))
    deliveries = await store.outbox_list(done.id)
    kept = await store.get(done.id) if aging.in_time(ended, aging.retention_s) else None
    if aging.in_time(ended, aging.retention_s):  # kept while the retention runs
        assert kept is not None and kept.status == TaskStatus.failed and len(deliveries) == 1
    delivery = deliveries[0] if deliveries else None

    await aging.advance(aging.retention_s + 0.1)
    await store.create(make(provider=tag))  # a write: the memory store sweeps, Redis cleans its indexes
    reads = [store.get(done.id), store.events(done.id)]
    if delivery is not None:
        reads.append(store.outbox_get(delivery.id))
    for read in reads:
        with pytest.raises(NotFound):
            await read
    assert await store.outbox_list(done.id) == []
    due = [d.id for d in await store.outbox_due(time.time() + 60, limit=10_000)]
    assert delivery is None or delivery.id not in due
    listed, _ = await store.list(provider=tag)
    assert done.id not in [t.id for t in listed] and live.id in [t.id for t in listed]
    assert (await store.list(status=TaskStatus.failed, provider=tag))[0] == []
    assert (await store.get(live.id)).status == TaskStatus.queued  # unfinished tasks are never deleted


async def test_idempotency_keys_expire(aging: Aging) -> None:
    store, key = aging.store, f"k-{os.urandom(4).hex()}"
    made = aging.started()
    first, _ = await store.create(make(key=key, fp="A"))
    again = (await store.create(make(key=key, fp="A")))[0]
    if aging.in_time(made, aging.key_ttl_s):  # the same task while the key lives
        assert again.id == first.id
    await aging.advance(aging.key_ttl_s + 0.1)
    second, created = await store.create(make(key=key, fp="B"))  # the key is free again: no conflict
    assert created and second.id != first.id
    assert (await store.get(first.id)).id == first.id  # the queued task itself stays


async def test_an_idempotency_key_lasts_no_longer_than_its_task(aging: Aging) -> None:
    store, key = aging.store, f"k-{os.urandom(4).hex()}"
    first, _ = await store.create(make(key=key, fp="A"))
    await store.put(first.model_copy(update={"status": TaskStatus.canceled}))
    await aging.advance(aging.retention_s + 0.1)  # the task is gone, the key's own TTL is not over yet
    again, created = await store.create(make(key=key, fp="A"))
    assert created and again.id != first.id


@pytest.mark.ray
async def test_a_restarted_store_actor_comes_back_empty_with_a_new_epoch(ray_serve: object) -> None:
    import ray

    from genpulse.tasks.actor_store import ACTOR_NAME, ActorTaskStore

    namespace = f"epoch-{os.urandom(4).hex()}"
    store = ActorTaskStore.connect(namespace)
    first = await store.epoch()
    task, _ = await store.create(make())
    ray.kill(ray.get_actor(ACTOR_NAME, namespace=namespace), no_restart=False)  # Ray restarts it (max_restarts)
    deadline = time.monotonic() + 30
    while True:  # the kill is asynchronous: calls may reach the old actor for a moment
        with contextlib.suppress(ServiceUnavailable):
            if await store.epoch() != first:
                break
        assert time.monotonic() < deadline, "the store actor did not come back with a new epoch"
        await asyncio.sleep(0.2)
    with pytest.raises(NotFound):
        await store.get(task.id)
