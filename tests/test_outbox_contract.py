"""The TaskStore's webhook outbox contract, against every implementation (memory, redis, the Ray actor)."""

from __future__ import annotations

import pytest

from genpulse.core.errors import Conflict, NotFound
from genpulse.core.schemas import TaskStatus, now
from genpulse.tasks import TaskStore
from genpulse.tasks.outbox import Delivery, DeliveryStatus, message_id
from tests.support.tasks import make

HOOK = "https://hooks.example.com/genpulse"


async def _finished(store: TaskStore, url: str | None = HOOK, status: TaskStatus = TaskStatus.succeeded):
    task, _ = await store.create(make().model_copy(update={"webhook_url": url}))
    running = await store.put(task.model_copy(update={"status": TaskStatus.running}))
    assert await store.outbox_list(task.id) == []
    return await store.put(running.model_copy(update={"status": status, "result": {"assets": []}}))


async def test_terminal_write_enqueues_one_delivery(store: TaskStore) -> None:
    before = now()
    done = await _finished(store)
    (delivery,) = await store.outbox_list(done.id)
    assert delivery.id == message_id(done.id) and delivery.task_id == done.id
    assert delivery.status == DeliveryStatus.pending and delivery.url == HOOK and delivery.version == 1
    assert delivery.event_type == "task.succeeded" and '"status":"succeeded"' in delivery.body
    assert before <= (delivery.due_at or 0) <= now()
    assert delivery.id in [d.id for d in await store.outbox_due(now() + 1)]
    assert await store.outbox_get(delivery.id) == delivery


async def test_no_delivery_without_url_or_before_terminal(store: TaskStore) -> None:
    done = await _finished(store, url=None, status=TaskStatus.failed)
    assert await store.outbox_list(done.id) == []
    with pytest.raises(NotFound):
        await store.outbox_get(message_id(done.id))


async def test_outbox_put_is_compare_and_set(store: TaskStore) -> None:
    done = await _finished(store, status=TaskStatus.canceled)
    (d,) = await store.outbox_list(done.id)
    delivered = await store.outbox_put(d.model_copy(update={"status": DeliveryStatus.delivered, "due_at": None}))
    assert delivered.version == 2
    with pytest.raises(Conflict):
        await store.outbox_put(d.model_copy(update={"status": DeliveryStatus.failed}))
    assert (await store.outbox_get(d.id)).status == DeliveryStatus.delivered
    assert d.id not in [x.id for x in await store.outbox_due(now() + 10)]
    with pytest.raises(Conflict):  # version 0 creates, and only once
        await store.outbox_put(d.model_copy(update={"version": 0}))


async def test_due_is_ordered_limited_and_timed(store: TaskStore) -> None:
    base = now() + 1000  # later than anything other tests left due
    made = []
    for offset in (30, 10, 20):
        done = await _finished(store)
        (d,) = await store.outbox_list(done.id)
        made.append(await store.outbox_put(d.model_copy(update={"due_at": base + offset})))
    due = [d.id for d in await store.outbox_due(base + 25, limit=1000) if d.due_at and d.due_at >= base]
    assert due == [made[1].id, made[2].id]
    first = await store.outbox_due(base + 100, limit=1)
    assert len(first) == 1


async def test_delivery_created_by_put_with_version_zero(store: TaskStore) -> None:
    task, _ = await store.create(make().model_copy(update={"status": TaskStatus.failed, "webhook_url": HOOK}))
    fresh = Delivery.for_task(task)
    stored = await store.outbox_put(fresh)
    assert stored.version == 1 and [d.id for d in await store.outbox_list(task.id)] == [fresh.id]
