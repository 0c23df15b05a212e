"""The AccountStore contract on every store (memory, real Redis, the Ray actor): holds, settlements and refunds
are written with the task transitions that cause them, exactly once, and concurrent holds never overdraw."""

from __future__ import annotations

import asyncio

import pytest

from genpulse.core.errors import Conflict, InsufficientCredits, NotFound, TooManyRequests
from genpulse.core.schemas import Task, TaskStatus, new_id, now
from genpulse.tasks import TaskStore
from genpulse.tenants.billing import Billing, Price
from genpulse.tenants.models import ApiKey, EntryKind, LedgerEntry, Tenant


def priced(tenant: str, held: int, key_id: str | None = None, key: str | None = None) -> Task:
    billing = Billing(held=held, price=Price(per_video_second=held / 5), units={"video_seconds": 5})
    return Task(
        id=new_id("tsk"), provider="kling", task_type="text-to-video", status=TaskStatus.queued,
        params={"duration": 5}, created_at=now(), tenant_id=tenant, key_id=key_id, idempotency_key=key,
        fingerprint="fp", billing=billing,
    )  # fmt: skip


async def new_tenant(store: TaskStore, credits: int) -> str:
    t = await store.tenant_create(Tenant(id=new_id("ten"), name="t", created_at=now()))
    if credits:
        await store.credit(LedgerEntry.make(t.id, EntryKind.topup, credits))
    return t.id


async def end(store: TaskStore, task: Task, status: TaskStatus, result: dict | None = None) -> Task:
    running = await store.put(task.model_copy(update={"status": TaskStatus.running}))
    return await store.put(running.model_copy(update={"status": status, "result": result, "finished_at": now()}))


async def test_concurrent_holds_never_overdraw(store: TaskStore) -> None:
    tenant = await new_tenant(store, 100)
    outcomes = await asyncio.gather(*(store.create(priced(tenant, 10)) for _ in range(50)), return_exceptions=True)
    accepted = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert len(accepted) == 10 and len(refused) == 40, outcomes
    assert refused[0].details["price"] == 10 and refused[0].details["available"] == 0
    account = await store.account(tenant)
    assert (account.balance, account.held) == (100, 100)
    listed, _ = await store.list(tenant=tenant, limit=100)
    assert len(listed) == 10  # a refused create stores nothing


async def test_each_task_settles_or_refunds_exactly_once(store: TaskStore) -> None:
    tenant = await new_tenant(store, 50)
    ok, _ = await store.create(priced(tenant, 10))
    bad, _ = await store.create(priced(tenant, 10))
    video = {"assets": [{"id": "ast_x", "content_type": "video/mp4"}], "video_seconds": 3}
    done = await end(store, ok, TaskStatus.succeeded, video)
    assert done.billing is not None and (done.billing.state, done.billing.charged) == ("settled", 6)  # 3 s of 5
    failed = await end(store, bad, TaskStatus.failed)
    assert failed.billing is not None and failed.billing.state == "refunded"
    for task in (done, failed):  # a terminal state never changes: no second movement
        with pytest.raises(Conflict):
            await store.put(task.model_copy(update={"status": TaskStatus.succeeded}))
    account = await store.account(tenant)
    assert (account.balance, account.held) == (44, 0)
    entries, cursor = await store.ledger(tenant, limit=2)
    more, end_cursor = await store.ledger(tenant, limit=10, cursor=cursor)
    assert cursor is not None and end_cursor is None
    kinds = [(e.kind, e.amount, e.task_id) for e in reversed(entries + more)]
    assert kinds == [
        (EntryKind.topup, 50, None), (EntryKind.hold, 10, ok.id), (EntryKind.hold, 10, bad.id),
        (EntryKind.settle, 6, ok.id), (EntryKind.refund, 10, bad.id),
    ]  # fmt: skip
    (row,) = await store.usage(tenant)
    assert (row.provider, row.succeeded, row.refunded, row.spend) == ("kling", 1, 1, 6)


async def test_idempotent_repeat_holds_nothing_again(store: TaskStore) -> None:
    tenant = await new_tenant(store, 30)
    first, created = await store.create(priced(tenant, 10, key="k"))
    again, created_again = await store.create(priced(tenant, 10, key="k"))
    assert created and not created_again and again.id == first.id
    assert (await store.account(tenant)).held == 10


async def test_open_tasks_per_key_and_the_request_bucket(store: TaskStore) -> None:
    tenant = await new_tenant(store, 0)
    key = ApiKey(id=new_id("key"), tenant_id=tenant, prefix="gp_x", created_at=now(), hash="h" + new_id("h"))
    await store.key_create(key)
    assert (await store.key_by_hash(key.hash)).id == key.id
    one, _ = await store.create(priced(tenant, 0, key_id=key.id), max_open=1)
    with pytest.raises(TooManyRequests):
        await store.create(priced(tenant, 0, key_id=key.id), max_open=1)
    await end(store, one, TaskStatus.canceled)
    assert await store.key_open(key.id) == 0
    await store.create(priced(tenant, 0, key_id=key.id), max_open=1)
    waits = [await store.key_hit(key.id, 2.0) for _ in range(4)]
    assert waits[:2] == [None, None] and all(w is not None and 0 < w <= 1 for w in waits[2:])
    revoked = await store.key_revoke(key.id)
    assert revoked.revoked_at is not None and (await store.key_by_hash(key.hash)).revoked_at is not None


async def test_tenants_and_adjustments(store: TaskStore) -> None:
    tenant = await new_tenant(store, 20)
    await store.create(priced(tenant, 15))
    with pytest.raises(Conflict):  # would leave less than what is held
        await store.credit(LedgerEntry.make(tenant, EntryKind.adjustment, -10))
    account = await store.credit(LedgerEntry.make(tenant, EntryKind.adjustment, -5))
    assert (account.balance, account.held, account.available) == (15, 15, 0)
    with pytest.raises(NotFound):
        await store.tenant_get("ten_nobody")
    assert (await store.tenant_get("ten_default")).name == "default"
    page, _ = await store.tenant_list(limit=1000)
    assert tenant in [t.id for t in page]
