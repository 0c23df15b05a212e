"""MemoryTaskStore: the TaskStore in one process's memory.

It is the engine of the default in-cluster store (``ActorTaskStore`` runs it inside a named, detached Ray
actor) and is usable on its own in unit tests. All methods run on one event loop, so each is atomic.

Growth is bounded: terminal tasks (with their events and webhook deliveries) are deleted ``retention_s`` after
they end and idempotency keys expire (two heaps, swept at the start of every call); ``list`` reads a sorted id
index per filter, so a page costs O(log n + limit). ``clock`` is injectable for tests.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import os
import time
from collections import deque
from collections.abc import Callable

from genpulse.core.errors import Conflict, NotFound
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks.memory_accounts import MemoryAccounts
from genpulse.tasks.memory_workflows import MemoryWorkflows
from genpulse.tasks.outbox import Delivery, needs_delivery
from genpulse.tasks.store import (
    DEFAULT_RETENTION_S,
    TENANT_EVENT_HISTORY,
    TaskEvent,
    TenantEvent,
    check_transition,
    records_event,
)
from genpulse.tenants.ledger import closing, on_create, on_write

IndexKey = tuple[str | None, str | None, str | None]  # (tenant, status, provider); None: any


def _index_keys(task: Task) -> list[IndexKey]:
    status, provider = task.status.value, task.provider
    pairs = [(None, None), (status, None), (None, provider), (status, provider)]
    return [(tenant, s, p) for tenant in (None, task.tenant_id) for s, p in pairs]


class MemoryTaskStore(MemoryAccounts, MemoryWorkflows):
    def __init__(
        self,
        event_history: int = 256,
        *,
        retention_s: float = DEFAULT_RETENTION_S,
        idempotency_ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock)
        MemoryWorkflows.__init__(self)
        self._tasks: dict[str, Task] = {}
        self._idem: dict[str, tuple[str, float]] = {}  # key -> (task id, expires at)
        self._events: dict[str, deque[TaskEvent]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._tenant_log: dict[str, deque[TenantEvent]] = {}
        self._tenant_seq: dict[str, int] = {}
        self._tenant_changed: dict[str, asyncio.Event] = {}
        self._history = event_history
        self._retention_s, self._idem_ttl_s = retention_s, idempotency_ttl_s or retention_s
        self._clock = clock
        self._index: dict[IndexKey, list[str]] = {}  # sorted ids (time-ordered) per filter
        self._expiry: list[tuple[float, str]] = []  # (delete at, task id) of terminal tasks
        self._idem_expiry: list[tuple[float, str]] = []  # (expires at, key)
        self._outbox: dict[str, Delivery] = {}
        self._pending: set[str] = set()
        self._by_task: dict[str, set[str]] = {}
        self._epoch = f"gen_{int(time.time() * 1000):012x}{os.urandom(6).hex()}"

    def _sweep(self) -> None:
        """Delete what outlived its retention: terminal tasks (with events and deliveries), expired keys."""
        now = self._clock()
        while self._expiry and self._expiry[0][0] <= now:
            self._delete(heapq.heappop(self._expiry)[1])
        while self._idem_expiry and self._idem_expiry[0][0] <= now:
            _, key = heapq.heappop(self._idem_expiry)
            held = self._idem.get(key)
            if held is not None and held[1] <= now:
                del self._idem[key]

    def _delete(self, task_id: str) -> None:
        task = self._tasks.pop(task_id, None)
        if task is None:
            return
        self._unindex(task)
        self._events.pop(task_id, None)
        self._changed.pop(task_id, None)
        if task.idempotency_key is not None and self._idem.get(task.idempotency_key, ("",))[0] == task_id:
            del self._idem[task.idempotency_key]
        for delivery_id in self._by_task.pop(task_id, set()):
            self._outbox.pop(delivery_id, None)
            self._pending.discard(delivery_id)

    def _reindex(self, before: Task | None, after: Task) -> None:
        if before is not None and before.status == after.status:
            return
        if before is not None:
            self._unindex(before)
        for key in _index_keys(after):
            bisect.insort(self._index.setdefault(key, []), after.id)

    def _unindex(self, task: Task) -> None:
        for key in _index_keys(task):
            ids = self._index.get(key, [])
            at = bisect.bisect_left(ids, task.id)
            if at < len(ids) and ids[at] == task.id:
                del ids[at]
            if not ids:
                self._index.pop(key, None)

    def _record(self, task: Task, before: Task | None = None) -> None:
        if before is not None and needs_delivery(before, task):
            delivery = Delivery.for_task(task)
            if delivery.id not in self._outbox:
                self._save_delivery(delivery.model_copy(update={"version": 1}))
        self._reindex(before, task)
        self._tasks[task.id] = task
        if task.is_terminal and (before is None or not before.is_terminal):
            heapq.heappush(self._expiry, (self._clock() + self._retention_s, task.id))
        if not records_event(before, task):
            return
        self._events.setdefault(task.id, deque(maxlen=self._history)).append(TaskEvent.of(task))
        for flag in (self._changed.pop(task.id, None), self._log_tenant_event(task)):
            if flag is not None:
                flag.set()

    def _log_tenant_event(self, task: Task) -> asyncio.Event | None:
        seq = self._tenant_seq[task.tenant_id] = self._tenant_seq.get(task.tenant_id, 0) + 1
        log = self._tenant_log.setdefault(task.tenant_id, deque(maxlen=TENANT_EVENT_HISTORY))
        log.append(TenantEvent.of(task, seq))
        return self._tenant_changed.pop(task.tenant_id, None)

    def _get(self, task_id: str) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise NotFound(f"task {task_id} not found") from None

    async def create(self, task: Task, *, max_open: int | None = None) -> tuple[Task, bool]:
        self._sweep()
        key = task.idempotency_key
        if key is not None:
            held = self._idem.get(key)
            existing = self._tasks.get(held[0]) if held is not None else None
            if existing is not None:
                if existing.fingerprint != task.fingerprint:
                    raise Conflict("idempotency key already used with a different request")
                return existing.model_copy(deep=True), False
        if task.id in self._tasks:
            raise Conflict(f"task {task.id} already exists")
        self.check_create(task, max_open)
        if key is not None:
            expires = self._clock() + self._idem_ttl_s
            self._idem[key] = (task.id, expires)
            heapq.heappush(self._idem_expiry, (expires, key))
        stored = task.model_copy(update={"version": 1}, deep=True)
        self._record(stored)
        self.apply(on_create(stored))
        return stored.model_copy(deep=True), True

    async def get(self, task_id: str) -> Task:
        self._sweep()
        return self._get(task_id).model_copy(deep=True)

    async def put(self, task: Task) -> Task:
        self._sweep()
        stored = self._get(task.id)
        if stored.version != task.version:
            raise Conflict(f"task {task.id} changed concurrently (version {stored.version} != {task.version})")
        check_transition(stored, task)
        new = closing(stored, task.model_copy(update={"version": stored.version + 1}, deep=True))
        self._record(new, stored)
        self.apply(on_write(stored, new))
        return new.model_copy(deep=True)

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        self._sweep()
        ids = self._index.get((tenant, status.value if status else None, provider), [])
        end = bisect.bisect_left(ids, cursor) if cursor is not None else len(ids)
        page = ids[max(0, end - limit) : end][::-1] if limit > 0 else []
        out = [self._tasks[i].model_copy(deep=True) for i in page]
        more = end > len(page)
        return out, (out[-1].id if more and out else None)

    async def wait(self, task_id: str, after_version: int, timeout: float) -> Task:
        self._sweep()
        task = self._get(task_id)
        if task.version > after_version or timeout <= 0:
            return task.model_copy(deep=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while task.version <= after_version:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            flag = self._changed.setdefault(task_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flag.wait(), remaining)
            task = self._get(task_id)
        return task.model_copy(deep=True)

    async def events(self, task_id: str, after_version: int = 0) -> list[TaskEvent]:
        self._sweep()
        self._get(task_id)
        return [e for e in self._events.get(task_id, ()) if e.seq > after_version]

    async def tenant_events(self, tenant: str, after: int = 0, timeout: float = 0) -> list[TenantEvent]:
        self._sweep()
        if self._tenant_seq.get(tenant, 0) <= after and timeout > 0:
            flag = self._tenant_changed.setdefault(tenant, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flag.wait(), timeout)
        return [e.model_copy() for e in self._tenant_log.get(tenant, ()) if e.seq > after]

    async def tenant_event_seq(self, tenant: str) -> int:
        return self._tenant_seq.get(tenant, 0)

    def _save_delivery(self, delivery: Delivery) -> None:
        self._outbox[delivery.id] = delivery
        self._by_task.setdefault(delivery.task_id, set()).add(delivery.id)
        if delivery.due_at is None:
            self._pending.discard(delivery.id)
        else:
            self._pending.add(delivery.id)

    async def outbox_due(self, at: float, limit: int = 100) -> list[Delivery]:
        self._sweep()
        due = [self._outbox[i] for i in self._pending if (self._outbox[i].due_at or 0) <= at]
        due.sort(key=lambda d: (d.due_at or 0, d.id))
        return [d.model_copy(deep=True) for d in due[:limit]]

    async def outbox_get(self, delivery_id: str) -> Delivery:
        self._sweep()
        try:
            return self._outbox[delivery_id].model_copy(deep=True)
        except KeyError:
            raise NotFound(f"webhook delivery {delivery_id} not found") from None

    async def outbox_put(self, delivery: Delivery) -> Delivery:
        self._sweep()
        stored = self._outbox.get(delivery.id)
        if (stored.version if stored else 0) != delivery.version:
            raise Conflict(f"webhook delivery {delivery.id} changed concurrently")
        new = delivery.model_copy(update={"version": delivery.version + 1}, deep=True)
        self._save_delivery(new)
        return new.model_copy(deep=True)

    async def outbox_list(self, task_id: str) -> list[Delivery]:
        self._sweep()
        found = (self._outbox[i] for i in self._by_task.get(task_id, ()))
        return sorted((d.model_copy(deep=True) for d in found), key=lambda d: d.created_at)

    async def epoch(self) -> str:
        return self._epoch

    async def ping(self) -> None:
        self._sweep()

    async def close(self) -> None:
        return None
