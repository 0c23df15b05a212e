"""CallBatcher (``genpulse.tasks.call_batch``): calls made in one event-loop turn go as one RPC, each with its own
outcome; and the actor task store's hot calls through it on a real Ray actor."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from genpulse.core.errors import Conflict, NotFound
from genpulse.tasks.call_batch import Call, CallBatcher, Outcome, Tickets, UnknownTicket, run_batch
from genpulse.tasks.memory_store import MemoryTaskStore
from tests.support.tasks import make

BATCHABLE = {"create", "get", "put"}


class Wire:
    """A store on the far side of a "connection": records each RPC it is sent."""

    def __init__(self) -> None:
        self.store = MemoryTaskStore()
        self.rpcs: list[list[str]] = []
        self.down = False

    async def one(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._check()
        self.rpcs.append([method])
        return await getattr(self.store, method)(*args, **kwargs)

    async def many(self, calls: list[Call]) -> list[Outcome]:
        self._check()
        self.rpcs.append([method for method, _, _ in calls])
        return await run_batch(self.store, calls, BATCHABLE)

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("the store is unreachable")


async def test_calls_made_in_one_turn_go_as_one_rpc_and_a_lone_call_goes_alone() -> None:
    wire = Wire()
    batcher = CallBatcher(wire.one, wire.many)
    created = await asyncio.gather(*(batcher.call("create", make()) for _ in range(20)))
    assert wire.rpcs == [["create"] * 20]
    got = await batcher.call("get", created[0][0].id)
    assert got == created[0][0] and wire.rpcs[-1] == ["get"]
    assert (batcher.rpcs, batcher.calls) == (2, 21)


async def test_each_call_in_a_batch_has_its_own_outcome() -> None:
    wire = Wire()
    batcher = CallBatcher(wire.one, wire.many)
    task, _ = await batcher.call("create", make())
    first, second = task.model_copy(update={"progress": 10.0}), task.model_copy(update={"progress": 20.0})
    outcomes = await asyncio.gather(
        batcher.call("put", first), batcher.call("put", second), batcher.call("get", "nope"), return_exceptions=True
    )
    assert len(wire.rpcs[-1]) == 3  # one RPC
    assert outcomes[0].version == task.version + 1 and outcomes[0].progress == 10.0  # type: ignore[union-attr]
    assert isinstance(outcomes[1], Conflict)  # the same version: one compare-and-set wins, as if sent alone
    assert isinstance(outcomes[2], NotFound)
    assert (await wire.store.get(task.id)).progress == 10.0


async def test_a_failed_rpc_fails_every_call_in_it_and_a_method_not_allowed_is_refused() -> None:
    wire = Wire()
    batcher = CallBatcher(wire.one, wire.many)
    wire.down = True
    outcomes = await asyncio.gather(*(batcher.call("get", "x") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    wire.down = False
    outcomes = await asyncio.gather(batcher.call("ping"), batcher.call("get", "x"), return_exceptions=True)
    assert isinstance(outcomes[0], ValueError) and "cannot be batched" in str(outcomes[0])
    assert isinstance(outcomes[1], NotFound)


async def test_batches_are_cut_at_the_limit() -> None:
    wire = Wire()
    batcher = CallBatcher(wire.one, wire.many, max_batch=8)
    await asyncio.gather(*(batcher.call("create", make()) for _ in range(20)))
    assert [len(r) for r in wire.rpcs] == [8, 8, 4]


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    wire = Wire()
    batcher = CallBatcher(wire.one, wire.many)
    task, _ = await batcher.call("create", make())
    gone = asyncio.ensure_future(batcher.call("get", task.id))
    kept = asyncio.ensure_future(batcher.call("get", task.id))
    await asyncio.sleep(0)  # both queued
    gone.cancel()
    assert (await kept) == task
    assert gone.cancelled()


@pytest.mark.ray
async def test_the_actor_store_groups_concurrent_calls_and_keeps_compare_and_set(ray_serve: object) -> None:
    from genpulse.tasks.actor_store import ActorTaskStore

    store = ActorTaskStore.connect(f"batch-{os.urandom(4).hex()}")
    created = await asyncio.gather(*(store.create(make()) for _ in range(50)))
    task = created[0][0]
    racers = [task.model_copy(update={"attempts": i}) for i in range(1, 31)]
    outcomes = await asyncio.gather(*(store.put(t) for t in racers), return_exceptions=True)
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1 and all(isinstance(o, Conflict) for o in outcomes if o not in winners)
    assert (await store.get(task.id)).attempts == winners[0].attempts
    with pytest.raises(NotFound):
        await store.get("no-such-task")
    assert store.batcher.calls == 50 + 30 + 2 and store.batcher.rpcs <= 6  # two gathers, two lone gets (+ slack)


class Slots:
    """The limiter side of a "connection" whose batches may hold waiting calls (``Tickets``)."""

    def __init__(self, max_jobs: int) -> None:
        from genpulse.providers.ratelimit import RateLimiter

        self.limiter = RateLimiter(rps=1000, max_concurrent_jobs=max_jobs)
        self.tickets = Tickets(keep_s=60)
        self.rpcs: list[str] = []
        self.forget = False  # as a restarted actor: no ticket is known

    async def one(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.rpcs.append(method)
        return await getattr(self.limiter, method)(*args, **kwargs)

    async def many(self, calls: list[Call]) -> list[Outcome]:
        self.rpcs.append("batch")
        return await self.tickets.run_batch(self.limiter, calls, {"acquire_job", "release_job"})

    async def collect(self, ticket: int) -> Any:
        self.rpcs.append("collect")
        if self.forget:
            raise UnknownTicket(ticket)
        return await self.tickets.collect(ticket)


async def test_a_batch_answers_what_needs_no_wait_and_each_waiting_call_is_collected_once_granted() -> None:
    slots = Slots(max_jobs=2)
    batcher = CallBatcher(slots.one, slots.many, collect=slots.collect)
    calls = [asyncio.ensure_future(batcher.call("acquire_job", f"t{i}", "normal", "w")) for i in range(3)]
    done, waiting = await asyncio.wait(calls, timeout=0.5)
    assert len(done) == 2 and slots.rpcs == ["batch", "collect"]  # two slots at once, the third waits its turn
    await batcher.call("release_job", "t0", "w")
    await asyncio.wait_for(waiting.pop(), 5.0)  # granted when a slot is freed, through its own collect
    assert (await slots.limiter.stats())["jobs_held"] == 2


async def test_a_ticket_the_actor_no_longer_knows_sends_the_call_again() -> None:
    slots = Slots(max_jobs=1)
    batcher = CallBatcher(slots.one, slots.many, collect=slots.collect)
    slots.forget = True
    first, second = batcher.call("acquire_job", "a", "normal", "w"), batcher.call("acquire_job", "b", "normal", "w")
    both = asyncio.gather(first, second)
    await until_true(lambda: "acquire_job" in slots.rpcs)  # b's ticket was unknown: asked again, alone
    await slots.limiter.release_job("a", "w")
    await asyncio.wait_for(both, 5.0)


async def until_true(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.01)


@pytest.mark.ray
async def test_the_limiter_actor_groups_job_slot_calls_and_a_waiting_one_is_granted_in_its_turn(
    ray_serve: object,
) -> None:
    from deployments.limiter_actor import ActorLimiter, RateLimiterActor

    handle = RateLimiterActor.options(name=f"batch-limiter-{os.urandom(4).hex()}", lifetime="detached").remote(100, 3)
    limiter = ActorLimiter(handle)
    try:
        grants = [asyncio.ensure_future(limiter.acquire_job(f"t{i}", "normal", "w")) for i in range(4)]
        done, waiting = await asyncio.wait(grants, timeout=3.0)
        assert len(done) == 3 and len(waiting) == 1
        assert limiter.batcher.rpcs == 1  # the four went as one actor call
        await limiter.release_job("t0", "w")
        await asyncio.wait_for(waiting.pop(), 10.0)
        assert (await limiter.stats())["jobs_held"] == 3
    finally:
        import ray

        ray.kill(handle)
