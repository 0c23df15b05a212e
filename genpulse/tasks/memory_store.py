"""MemoryTaskStore: the TaskStore in one process's memory.

It is the engine of the default in-cluster store (``ActorTaskStore`` runs it inside a named, detached Ray
actor) and is usable on its own in unit tests. All methods run on one event loop, so each is atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from genpulse.core.errors import Conflict, NotFound
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks.outbox import Delivery, needs_delivery
from genpulse.tasks.store import TaskEvent, check_transition


class MemoryTaskStore:
    def __init__(self, event_history: int = 256) -> None:
        self._tasks: dict[str, Task] = {}
        self._idem: dict[str, str] = {}
        self._events: dict[str, deque[TaskEvent]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._history = event_history
        self._outbox: dict[str, Delivery] = {}
        self._pending: set[str] = set()
        self._by_task: dict[str, set[str]] = {}

    def _record(self, task: Task, before: Task | None = None) -> None:
        if before is not None and needs_delivery(before, task):
            delivery = Delivery.for_task(task)
            if delivery.id not in self._outbox:
                self._save_delivery(delivery.model_copy(update={"version": 1}))
        self._tasks[task.id] = task
        self._events.setdefault(task.id, deque(maxlen=self._history)).append(TaskEvent.of(task))
        flag = self._changed.pop(task.id, None)
        if flag is not None:
            flag.set()

    def _get(self, task_id: str) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise NotFound(f"task {task_id} not found") from None

    async def create(self, task: Task) -> tuple[Task, bool]:
        if task.idempotency_key is not None:
            existing_id = self._idem.get(task.idempotency_key)
            if existing_id is not None:
                existing = self._tasks[existing_id]
                if existing.fingerprint != task.fingerprint:
                    raise Conflict(
                        "idempotency key already used with a different request",
                        details={"task_id": existing_id},
                    )
                return existing.model_copy(deep=True), False
            self._idem[task.idempotency_key] = task.id
        if task.id in self._tasks:
            raise Conflict(f"task {task.id} already exists")
        stored = task.model_copy(update={"version": 1}, deep=True)
        self._record(stored)
        return stored.model_copy(deep=True), True

    async def get(self, task_id: str) -> Task:
        return self._get(task_id).model_copy(deep=True)

    async def put(self, task: Task) -> Task:
        stored = self._get(task.id)
        if stored.version != task.version:
            raise Conflict(f"task {task.id} changed concurrently (version {stored.version} != {task.version})")
        check_transition(stored, task)
        new = task.model_copy(update={"version": stored.version + 1}, deep=True)
        self._record(new, stored)
        return new.model_copy(deep=True)

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        ids = sorted(self._tasks, reverse=True)
        out: list[Task] = []
        for task_id in ids:
            if cursor is not None and task_id >= cursor:
                continue
            task = self._tasks[task_id]
            if (status is None or task.status == status) and (provider is None or task.provider == provider):
                out.append(task.model_copy(deep=True))
                if len(out) > limit:
                    break
        more = len(out) > limit
        out = out[:limit]
        return out, (out[-1].id if more and out else None)

    async def wait(self, task_id: str, after_version: int, timeout: float) -> Task:
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
        self._get(task_id)
        return [e for e in self._events.get(task_id, ()) if e.seq > after_version]

    def _save_delivery(self, delivery: Delivery) -> None:
        self._outbox[delivery.id] = delivery
        self._by_task.setdefault(delivery.task_id, set()).add(delivery.id)
        if delivery.due_at is None:
            self._pending.discard(delivery.id)
        else:
            self._pending.add(delivery.id)

    async def outbox_due(self, at: float, limit: int = 100) -> list[Delivery]:
        due = [self._outbox[i] for i in self._pending if (self._outbox[i].due_at or 0) <= at]
        due.sort(key=lambda d: (d.due_at or 0, d.id))
        return [d.model_copy(deep=True) for d in due[:limit]]

    async def outbox_get(self, delivery_id: str) -> Delivery:
        try:
            return self._outbox[delivery_id].model_copy(deep=True)
        except KeyError:
            raise NotFound(f"webhook delivery {delivery_id} not found") from None

    async def outbox_put(self, delivery: Delivery) -> Delivery:
        stored = self._outbox.get(delivery.id)
        if (stored.version if stored else 0) != delivery.version:
            raise Conflict(f"webhook delivery {delivery.id} changed concurrently")
        new = delivery.model_copy(update={"version": delivery.version + 1}, deep=True)
        self._save_delivery(new)
        return new.model_copy(deep=True)

    async def outbox_list(self, task_id: str) -> list[Delivery]:
        found = (self._outbox[i] for i in self._by_task.get(task_id, ()))
        return sorted((d.model_copy(deep=True) for d in found), key=lambda d: d.created_at)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
