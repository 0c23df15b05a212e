"""RedisTaskStore: the durable TaskStore, shared by any number of ingress replicas and workers.

Layout (prefix ``gp:``): ``task:{id}`` hash (``v`` version, ``j`` JSON); ``idem:{key}`` hash (``id``, ``fp``);
``ev:{id}`` stream of events whose entry ids are ``{version}-0``; lexicographic index sets ``idx:all``,
``idx:s:{status}``, ``idx:p:{provider}``, ``idx:ps:{provider}:{status}`` (ids are time-ordered). Creates and
CAS writes are Lua scripts, so each write, its index moves and its event are one atomic step. ``wait`` blocks
on the event stream (``XREAD BLOCK``).
The webhook outbox: ``wh:{id}`` hash (``v``, ``j``), ``wh:due`` sorted set of pending ids by due time,
``wh:task:{task_id}`` set of a task's delivery ids; the terminal CAS write adds the delivery in the same script.
Retention: the write that makes a task terminal gives ``task:``, ``ev:`` and ``wh:`` keys a TTL of ``retention_s``
and adds ``{id}|{status}|{provider}`` to ``expiry`` (a sorted set by deletion time); every create and terminal
write then sweeps up to ``SWEEP_BATCH`` due entries out of the indexes and ``wh:due`` (and deletes their keys, if
the TTL has not yet). ``idem:`` keys expire ``idempotency_ttl_s`` after their first use; a key whose task is gone
is free. ``epoch`` (no TTL) is the store's generation marker. The scripts are in ``redis_scripts.py``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis.asyncio as aioredis

from genpulse.core.errors import Conflict, NotFound
from genpulse.core.schemas import Task, TaskStatus, now
from genpulse.tasks.memory_accounts import insufficient, too_many_open
from genpulse.tasks.outbox import Delivery, message_id, needs_delivery
from genpulse.tasks.redis_accounts import RedisAccounts
from genpulse.tasks.redis_common import P, translated
from genpulse.tasks.redis_scripts import CREATE, OUTBOX_PUT, PUT, SWEEP_BATCH
from genpulse.tasks.redis_workflows import RedisWorkflows
from genpulse.tasks.store import DEFAULT_RETENTION_S, TaskEvent, TenantEvent, check_transition, records_event
from genpulse.tenants.ledger import Movement, closing, on_create, on_write
from genpulse.tenants.models import Account


def _index(status: TaskStatus | None, provider: str | None, tenant: str | None = None) -> str:
    if tenant is not None:
        return _tenant_index(tenant, status, provider)
    if status and provider:
        return f"{P}idx:ps:{provider}:{status.value}"
    if status:
        return f"{P}idx:s:{status.value}"
    if provider:
        return f"{P}idx:p:{provider}"
    return f"{P}idx:all"


def _tenant_index(tenant: str, status: TaskStatus | None, provider: str | None) -> str:
    if status and provider:
        return f"{P}idx:tps:{tenant}:{provider}:{status.value}"
    if status:
        return f"{P}idx:ts:{tenant}:{status.value}"
    if provider:
        return f"{P}idx:tp:{tenant}:{provider}"
    return f"{P}idx:t:{tenant}"


def _money_keys(task: Task) -> list[str]:
    """The account, ledger, open-slot counter and usage keys a write of ``task`` may move."""
    return [
        f"{P}acct:{task.tenant_id}",
        f"{P}ledger:{task.tenant_id}",
        f"{P}open:{task.key_id or '-'}",
        f"{P}usage:{task.tenant_id}",
    ]


def _move_args(move: Movement) -> list[Any]:
    """``redis_scripts.MOVE``'s arguments."""
    u = move.usage
    usage = [f"{u.day}|{u.provider}|{u.task_type}", u.succeeded, u.refunded, u.spend] if u else ["", 0, 0, 0]
    entries = [e.model_dump_json() for e in move.entries]
    return [move.balance_delta, move.held_delta, move.open_delta, *usage, len(entries), *entries]


def _filters(task: Task) -> list[tuple[TaskStatus | None, str | None]]:
    return [(None, None), (task.status, None), (None, task.provider), (task.status, task.provider)]


def _tenant_log_keys(tenant: str) -> list[str]:
    return [f"{P}tev:{tenant}", f"{P}tevseq:{tenant}"]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _expiry_member(task: Task) -> str:
    return f"{task.id}|{task.status.value}|{task.provider}|{task.tenant_id}"


class RedisTaskStore(RedisAccounts, RedisWorkflows):
    def __init__(
        self,
        url: str,
        event_history: int = 256,
        max_connections: int = 512,
        *,
        retention_s: float = DEFAULT_RETENTION_S,
        idempotency_ttl_s: float | None = None,
    ) -> None:
        # A blocking pool: past ``max_connections`` a call waits (up to 10 s) for a free connection. The default
        # pool raises "Too many connections" at once, which a 200-client submit storm turned into 503s.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10, decode_responses=True, health_check_interval=30
        )
        self._redis = aioredis.Redis.from_pool(pool)  # closes the pool with the client
        self._history = event_history
        self._retention_s, self._idem_ttl_s = retention_s, idempotency_ttl_s or retention_s
        self._create = self._redis.register_script(CREATE)
        self._put = self._redis.register_script(PUT)
        self._outbox_put = self._redis.register_script(OUTBOX_PUT)

    async def create(self, task: Task, *, max_open: int | None = None) -> tuple[Task, bool]:
        stored = task.model_copy(update={"version": 1})
        keyed = task.idempotency_key is not None
        keys = [
            f"{P}task:{task.id}",
            f"{P}idem:{task.idempotency_key}" if keyed else f"{P}idem:-",
            _index(None, None),
            _index(task.status, None),
            _index(None, task.provider),
            _index(task.status, task.provider),
            f"{P}ev:{task.id}",
            f"{P}expiry",
            *_money_keys(task),
            *(_tenant_index(task.tenant_id, s, pr) for s, pr in _filters(task)),
            *_tenant_log_keys(task.tenant_id),
        ]
        event = TaskEvent.of(stored).model_dump_json()
        at = now()
        args = [
            task.id,
            stored.to_json(),
            task.fingerprint or "",
            event,
            self._history,
            "1" if keyed else "0",
            _ms(self._idem_ttl_s),
            P,
            _ms(self._retention_s) if task.is_terminal else "",
            _expiry_member(task),
            repr(at + self._retention_s),
            repr(at),
            SWEEP_BATCH,
            str(task.billing.held) if task.billing and task.billing.held > 0 and not task.is_terminal else "",
            str(max_open) if max_open is not None and task.key_id and not task.is_terminal else "",
            TenantEvent.of(stored).model_dump_json(),
            *_move_args(on_create(stored)),
        ]
        async with translated():
            got_id, got_fp, *refusal = await self._create(keys=keys, args=args)
        if refusal and refusal[0] == "busy":
            raise too_many_open(max_open or 0)
        if refusal and refusal[0] == "credits":
            raise insufficient(Account(balance=int(refusal[1]), held=int(refusal[2])), task.billing.held)  # type: ignore[union-attr]
        if got_id == task.id:
            return stored, True
        if not got_id:
            raise Conflict(f"task {task.id} already exists")
        if got_fp != (task.fingerprint or ""):
            raise Conflict("idempotency key already used with a different request")
        return await self.get(got_id), False

    async def get(self, task_id: str) -> Task:
        async with translated():
            raw = await self._redis.hget(f"{P}task:{task_id}", "j")
        if raw is None:
            raise NotFound(f"task {task_id} not found")
        return Task.from_json(raw)

    async def put(self, task: Task) -> Task:
        stored = await self.get(task.id)
        if stored.version != task.version:
            raise Conflict(f"task {task.id} changed concurrently (version {stored.version} != {task.version})")
        check_transition(stored, task)
        new = closing(stored, task.model_copy(update={"version": task.version + 1}))
        keys = [
            f"{P}task:{task.id}",
            f"{P}ev:{task.id}",
            _index(stored.status, None),
            _index(new.status, None),
            _index(stored.status, stored.provider),
            _index(new.status, new.provider),
            f"{P}wh:{message_id(task.id)}",
            f"{P}wh:due",
            f"{P}wh:task:{task.id}",
            f"{P}expiry",
            *_money_keys(new),
            _tenant_index(new.tenant_id, stored.status, None),
            _tenant_index(new.tenant_id, new.status, None),
            _tenant_index(new.tenant_id, stored.status, stored.provider),
            _tenant_index(new.tenant_id, new.status, new.provider),
            *_tenant_log_keys(new.tenant_id),
            _index(None, stored.provider),  # a failover moves the task to another provider's lists
            _index(None, new.provider),
            _tenant_index(new.tenant_id, None, stored.provider),
            _tenant_index(new.tenant_id, None, new.provider),
        ]
        delivery = Delivery.for_task(new).model_copy(update={"version": 1}) if needs_delivery(stored, new) else None
        args = [
            task.version,
            new.version,
            new.to_json(),
            task.id,
            TaskEvent.of(new).model_dump_json() if records_event(stored, new) else "",
            self._history,
            delivery.model_dump_json() if delivery else "",
            message_id(task.id),
            repr(delivery.due_at) if delivery else "0",
        ]
        at = now()
        ending = new.is_terminal and not stored.is_terminal
        args += [
            _ms(self._retention_s) if ending else "",
            _expiry_member(new),
            repr(at + self._retention_s),
            P,
            repr(at),
            SWEEP_BATCH,
            TenantEvent.of(new).model_dump_json(),
            *_move_args(on_write(stored, new)),
        ]
        async with translated():
            outcome = await self._put(keys=keys, args=args)
        if outcome == -1:
            raise NotFound(f"task {task.id} not found")
        if outcome == 0:
            raise Conflict(f"task {task.id} changed concurrently")
        return new

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        top = f"({cursor}" if cursor else "+"
        async with translated():
            ids = await self._redis.zrevrangebylex(_index(status, provider, tenant), top, "-", start=0, num=limit + 1)
            async with self._redis.pipeline(transaction=False) as pipe:
                for task_id in ids[:limit]:
                    pipe.hget(f"{P}task:{task_id}", "j")
                raws = await pipe.execute()
        tasks = [Task.from_json(raw) for raw in raws if raw is not None]
        more = len(ids) > limit
        return tasks, (ids[limit - 1] if more and limit > 0 else None)

    async def wait(self, task_id: str, after_version: int, timeout: float) -> Task:
        task = await self.get(task_id)
        if task.version > after_version or timeout <= 0:
            return task
        async with translated():
            await self._redis.xread({f"{P}ev:{task_id}": f"{after_version}-0"}, count=1, block=int(timeout * 1000))
        return await self.get(task_id)

    async def events(self, task_id: str, after_version: int = 0) -> list[TaskEvent]:
        await self.get(task_id)
        async with translated():
            entries = await self._redis.xrange(f"{P}ev:{task_id}", min=f"({after_version}-0", max="+")
        return [TaskEvent.model_validate(json.loads(fields["e"])) for _, fields in entries]

    async def tenant_events(self, tenant: str, after: int = 0, timeout: float = 0) -> list[TenantEvent]:
        log = f"{P}tev:{tenant}"
        async with translated():
            entries = await self._redis.xrange(log, min=f"({after}-0", max="+")
            if not entries and timeout > 0:
                found = await self._redis.xread({log: f"{after}-0"}, block=max(1, int(timeout * 1000)))
                entries = found[0][1] if found else []
        return [
            TenantEvent.model_validate_json(fields["e"]).model_copy(update={"seq": int(entry.split("-")[0])})
            for entry, fields in entries
        ]

    async def tenant_event_seq(self, tenant: str) -> int:
        async with translated():
            return int(await self._redis.get(f"{P}tevseq:{tenant}") or 0)

    async def outbox_due(self, at: float, limit: int = 100) -> list[Delivery]:
        async with translated():
            ids = await self._redis.zrangebyscore(f"{P}wh:due", "-inf", repr(at), start=0, num=limit)
        return await self._deliveries(ids)

    async def _deliveries(self, ids: list[str]) -> list[Delivery]:
        async with translated(), self._redis.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hget(f"{P}wh:{delivery_id}", "j")
            raws = await pipe.execute()
        return [Delivery.model_validate_json(raw) for raw in raws if raw is not None]

    async def outbox_get(self, delivery_id: str) -> Delivery:
        async with translated():
            raw = await self._redis.hget(f"{P}wh:{delivery_id}", "j")
        if raw is None:
            raise NotFound(f"webhook delivery {delivery_id} not found")
        return Delivery.model_validate_json(raw)

    async def outbox_put(self, delivery: Delivery) -> Delivery:
        new = delivery.model_copy(update={"version": delivery.version + 1})
        keys = [f"{P}wh:{delivery.id}", f"{P}wh:due", f"{P}wh:task:{delivery.task_id}", f"{P}task:{delivery.task_id}"]
        due = "" if new.due_at is None else repr(new.due_at)
        args = [delivery.version, new.version, new.model_dump_json(), due, new.id]
        async with translated():
            ok = await self._outbox_put(keys=keys, args=args)
        if not ok:
            raise Conflict(f"webhook delivery {delivery.id} changed concurrently")
        return new

    async def outbox_list(self, task_id: str) -> list[Delivery]:
        async with translated():
            ids = sorted(await self._redis.smembers(f"{P}wh:task:{task_id}"))
        return sorted(await self._deliveries(ids), key=lambda d: d.created_at)

    async def epoch(self) -> str:
        fresh = f"gen_{int(time.time() * 1000):012x}{os.urandom(6).hex()}"
        async with translated():
            held = await self._redis.set(f"{P}epoch", fresh, nx=True, get=True)
        return held or fresh

    async def ping(self) -> None:
        async with translated():
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
