"""The WorkflowStore contract (``genpulse.workflows.store``), run against every TaskStore: memory, a real
redis-server and the Ray actor (the parametrized ``store`` fixture in conftest.py); and the Redis store's
workflows surviving a restart of redis-server with persistence (``redis_proc``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from genpulse.core.errors import NotFound, ServiceUnavailable
from genpulse.tasks import TaskStore
from genpulse.workflows.models import Output, Param, Target, Workflow


def workflow(name: str = "sd15", digest: str = "h1", tenant: str = "default", **more: Any) -> Workflow:
    return Workflow(
        tenant_id=tenant,
        name=name,
        hash=digest,
        graph={"9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI"}}},
        params=[Param(name="prefix", type="string", targets=[Target(node="9", input="filename_prefix")])],
        outputs=[Output(node="9", class_type="SaveImage", kind="image")],
        created_at=1.0,
        **more,
    )


async def test_versions_are_numbered_and_a_same_hash_is_returned(store: TaskStore) -> None:
    first, created = await store.workflow_save(workflow(description="one"))
    assert created and first.version == 1 and first.retired_at is None and first.description == "one"
    again, created = await store.workflow_save(workflow(description="ignored"))
    assert not created and again.version == 1 and again.description == "one"
    second, created = await store.workflow_save(workflow(digest="h2"))
    assert created and second.version == 2
    assert (await store.workflow_get("default", "sd15")).version == 2
    assert (await store.workflow_get("default", "sd15", 1)).hash == "h1"
    got = await store.workflow_get("default", "sd15", 2)
    assert got.params == second.params and got.graph == second.graph and got.outputs == second.outputs
    assert [w.version for w in await store.workflow_versions("default", "sd15")] == [1, 2]


async def test_concurrent_saves_get_distinct_versions(store: TaskStore) -> None:
    saved = await asyncio.gather(*(store.workflow_save(workflow(digest=f"h{i}")) for i in range(8)))
    assert sorted(w.version for w, _ in saved) == list(range(1, 9))
    repeats = await asyncio.gather(*(store.workflow_save(workflow(name="same")) for _ in range(5)))
    assert [created for _, created in repeats].count(True) == 1 and {w.version for w, _ in repeats} == {1}


async def test_retire_keeps_the_version_readable_and_frees_its_hash(store: TaskStore) -> None:
    await store.workflow_save(workflow())
    await store.workflow_save(workflow(digest="h2"))
    retired = await store.workflow_retire("default", "sd15", 2, 50.0)
    assert retired.retired_at == 50.0 and retired.version == 2
    assert (await store.workflow_retire("default", "sd15", 2, 99.0)).retired_at == 50.0  # once
    assert (await store.workflow_get("default", "sd15")).version == 1
    assert (await store.workflow_get("default", "sd15", 2)).retired_at == 50.0
    again, created = await store.workflow_save(workflow(digest="h2"))
    assert created and again.version == 3
    await store.workflow_retire("default", "sd15", 1, 60.0)
    await store.workflow_retire("default", "sd15", 3, 60.0)
    with pytest.raises(NotFound):
        await store.workflow_get("default", "sd15")  # every version retired
    assert len(await store.workflow_versions("default", "sd15")) == 3


async def test_unknown_names_and_versions_are_not_found(store: TaskStore) -> None:
    await store.workflow_save(workflow())
    for call in (
        store.workflow_get("default", "nope"),
        store.workflow_get("default", "sd15", 2),
        store.workflow_versions("default", "nope"),
        store.workflow_retire("default", "sd15", 7, 1.0),
        store.workflow_retire("default", "nope", 1, 1.0),
    ):
        with pytest.raises(NotFound):
            await call


async def test_tenants_are_apart_and_lists_page_by_name(store: TaskStore) -> None:
    for name in ("c", "a", "b", "d"):
        await store.workflow_save(workflow(name=name))
    await store.workflow_save(workflow(name="a", tenant="ten_other", digest="other"))
    await store.workflow_retire("default", "b", 1, 1.0)
    page, cursor = await store.workflow_list("default", limit=2)
    assert [w.name for w in page] == ["a", "c"] and cursor
    rest, end = await store.workflow_list("default", limit=2, cursor=cursor)
    assert [w.name for w in rest] == ["d"] and end is None
    theirs, _ = await store.workflow_list("ten_other")
    assert [(w.name, w.hash) for w in theirs] == [("a", "other")]
    assert (await store.workflow_get("default", "a")).hash == "h1"
    with pytest.raises(NotFound):
        await store.workflow_get("ten_nobody", "a")
    assert await store.workflow_list("ten_nobody") == ([], None)


async def test_redis_workflows_survive_a_restart_and_a_down_redis_is_unavailable(redis_proc: Any) -> None:
    import redis

    from genpulse.tasks.redis_store import RedisTaskStore

    store = RedisTaskStore(f"redis://127.0.0.1:{redis_proc.port}/0")
    try:
        await store.workflow_save(workflow())
        redis.Redis(port=redis_proc.port).save()  # a snapshot, as a Redis with persistence makes
        redis_proc.stop()
        redis_proc.start()  # loads the snapshot
        for _ in range(3):  # the pool's old connections answer once that they are gone (retryable)
            try:
                assert (await store.workflow_get("default", "sd15")).version == 1
                break
            except ServiceUnavailable:
                continue
        else:
            raise AssertionError("the store never came back")
        redis_proc.stop()
        with pytest.raises(ServiceUnavailable):
            await store.workflow_get("default", "sd15")
    finally:
        await store.close()
