"""What the Redis store leaves behind: key TTLs set when a task ends, indexes and the outbox cleaned after the
retention, idempotency keys with a TTL, and an epoch that changes when Redis lost its data (real redis-server)."""

from __future__ import annotations

import asyncio

import redis

from genpulse.core.schemas import TaskStatus, now
from genpulse.tasks.outbox import message_id
from genpulse.tasks.redis_store import RedisTaskStore
from tests.support.tasks import make

HOOK = "https://hooks.example.com/genpulse"
DAY = 24 * 3600.0


async def test_keys_of_an_ended_task_get_the_retention_as_ttl(redis_url: str) -> None:
    store = RedisTaskStore(redis_url, retention_s=2 * DAY, idempotency_ttl_s=DAY)
    r = redis.Redis.from_url(redis_url)
    try:
        task, _ = await store.create(make(key="k1", fp="A").model_copy(update={"webhook_url": HOOK}))
        assert r.ttl(f"gp:task:{task.id}") == -1 and r.ttl(f"gp:ev:{task.id}") == -1  # running work never expires
        assert DAY - 5 <= r.ttl("gp:idem:k1") <= DAY
        done = await store.put(task.model_copy(update={"status": TaskStatus.succeeded}))
        for key in (f"task:{done.id}", f"ev:{done.id}", f"wh:{message_id(done.id)}", f"wh:task:{done.id}"):
            assert 2 * DAY - 5 <= r.ttl(f"gp:{key}") <= 2 * DAY, key
        assert r.zscore("gp:expiry", f"{done.id}|succeeded|diffusers|ten_default") is not None
        await store.epoch()
        assert r.ttl("gp:epoch") == -1  # the epoch never expires
    finally:
        await store.close()


async def test_indexes_and_outbox_are_cleaned_after_the_retention(redis_url: str) -> None:
    store = RedisTaskStore(redis_url, retention_s=0.3)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        task, _ = await store.create(make().model_copy(update={"webhook_url": HOOK}))
        done = await store.put(task.model_copy(update={"status": TaskStatus.failed}))
        assert done.id in r.zrange("gp:idx:s:failed", 0, -1) and r.zcard("gp:wh:due") == 1
        await asyncio.sleep(0.5)
        await store.create(make())  # every create sweeps what is due
        for index in ("gp:idx:all", "gp:idx:s:failed", "gp:idx:p:diffusers", "gp:idx:ps:diffusers:failed"):
            assert done.id not in r.zrange(index, 0, -1), index
        assert r.zcard("gp:wh:due") == 0 and r.zcard("gp:expiry") == 0
        assert not r.exists(f"gp:task:{done.id}", f"gp:ev:{done.id}", f"gp:wh:task:{done.id}")
        assert await store.outbox_due(now() + 60) == []
    finally:
        await store.close()


async def test_a_task_stored_terminal_expires_too(redis_url: str) -> None:
    store = RedisTaskStore(redis_url, retention_s=DAY)
    r = redis.Redis.from_url(redis_url)
    try:
        task, _ = await store.create(make().model_copy(update={"status": TaskStatus.failed}))
        assert DAY - 5 <= r.ttl(f"gp:task:{task.id}") <= DAY
    finally:
        await store.close()


async def test_the_epoch_changes_when_redis_lost_its_data(redis_url: str) -> None:
    store = RedisTaskStore(redis_url)
    other = RedisTaskStore(redis_url)  # another process: it sees the same epoch
    try:
        first = await store.epoch()
        assert await other.epoch() == first
        redis.Redis.from_url(redis_url).flushall()  # a restart without persistence
        assert await other.epoch() != first and await store.epoch() == await other.epoch()
    finally:
        await store.close()
        await other.close()
