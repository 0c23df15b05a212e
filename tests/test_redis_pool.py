"""The Redis store queues calls beyond its connection pool instead of failing them (found by the submit storm)."""

from __future__ import annotations

import asyncio

from genpulse.tasks.redis_store import RedisTaskStore
from tests.support.tasks import make


async def test_more_concurrent_calls_than_connections_all_succeed(redis_url: str) -> None:
    store = RedisTaskStore(redis_url, event_history=16, max_connections=4)
    try:
        tasks = [make() for _ in range(60)]
        created = await asyncio.gather(*(store.create(t) for t in tasks))
        assert all(ok for _, ok in created)
        waits = [store.wait(t.id, 1, 0.3) for t in tasks[:8]]  # blocking XREADs hold connections meanwhile
        got = await asyncio.gather(*waits, *(store.get(t.id) for t in tasks))
        assert [t.id for t in got[8:]] == [t.id for t in tasks]
    finally:
        await store.close()
