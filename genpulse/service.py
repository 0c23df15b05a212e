"""TaskService: what the API does, independent of HTTP (the ingress routes and in-cluster callers share it).

It validates a request against its provider, stores the task (the 202 promise: once ``submit`` returns, the
task is in the store), hands it to the provider's worker pool (fire-and-forget; a lost hand-off is adopted by
a worker's reconcile loop), and implements wait and cancel on top of the store's events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from genpulse.config import AppArgs
from genpulse.errors import Conflict, InvalidRequest, ProviderNotConfigured
from genpulse.providers import Registry
from genpulse.schemas import Task, TaskRequest, TaskStatus, new_id, now
from genpulse.storage import Storage
from genpulse.tasks import TaskStore, mutate
from genpulse.webhooks.manage import check_target

log = logging.getLogger("genpulse.service")


class Dispatcher(Protocol):
    """Hands tasks to the worker that will own them."""

    async def dispatch(self, task: Task) -> None: ...

    async def cancel(self, task: Task) -> None: ...


Check = Callable[[], Awaitable[object]]


@dataclass
class TaskService:
    args: AppArgs
    store: TaskStore
    storage: Storage
    registry: Registry
    dispatcher: Dispatcher
    checks: dict[str, Check] = field(default_factory=dict)

    async def submit(self, request: TaskRequest, idempotency_key: str | None = None) -> tuple[Task, bool]:
        """Validate and store a task; returns ``(task, created)``; ``created`` is False for an idempotent repeat."""
        key = idempotency_key or request.idempotency_key
        if idempotency_key and request.idempotency_key and idempotency_key != request.idempotency_key:
            raise InvalidRequest(
                "Idempotency-Key header and idempotency_key field disagree",
                details={"field": "idempotency_key"},
            )
        provider = self.registry.get(request.provider)
        if not provider.is_configured():
            raise ProviderNotConfigured(
                f"provider {provider.name!r} is not configured (see GENPULSE_PROVIDERS__{provider.name.upper()}__*)",
                details={"field": "provider"},
            )
        params = provider.validate(request.task_type, request.params).model_dump(mode="json")
        if request.webhook_url:
            check_target(self.args, request.webhook_url)
        created_at = now()
        deadline_s = request.deadline_s or self.args.workers.task_deadline_s
        task = Task(
            id=new_id("tsk"),
            provider=request.provider,
            task_type=request.task_type,
            status=TaskStatus.queued,
            params=params,
            priority=request.priority,
            webhook_url=request.webhook_url,
            metadata=request.metadata,
            created_at=created_at,
            deadline_at=created_at + deadline_s,
            idempotency_key=key,
            fingerprint=request.model_copy(update={"params": params}).fingerprint(),
        )
        stored, created = await self.store.create(task)
        if created:
            try:
                await self.dispatcher.dispatch(stored)
            except Exception:  # the task is safe in the store; a worker's reconcile loop will adopt it
                log.warning("dispatch of %s failed; left for reconcile", stored.id, exc_info=True)
        return stored, created

    async def get(self, task_id: str, wait: float = 0) -> Task:
        """The task; with ``wait`` > 0, returns as soon as it is terminal or ``wait`` seconds (capped) passed."""
        task = await self.store.get(task_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(wait, 0.0), self.args.server.max_wait_s)
        while not task.is_terminal:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            task = await self.store.wait(task_id, task.version, remaining)
        return task

    async def cancel(self, task_id: str) -> Task:
        def to_canceled(t: Task) -> Task:
            if t.is_terminal:
                raise Conflict(f"task {task_id} is already {t.status.value}", details={"status": t.status.value})
            t.status, t.finished_at, t.owner, t.lease_expires_at = TaskStatus.canceled, now(), None, None
            return t

        task = await mutate(self.store, task_id, to_canceled)
        assert task is not None
        try:
            await self.dispatcher.cancel(task)
        except Exception:  # the record is canceled; the worker's final write will be refused anyway
            log.warning("cancel notification for %s failed", task_id, exc_info=True)
        return task

    async def retry(self, task_id: str) -> Task:
        """Re-run a failed or canceled task as a new task (terminal records never change); links both ways."""
        old = await self.store.get(task_id)
        if old.status not in (TaskStatus.failed, TaskStatus.canceled):
            raise Conflict(
                f"only failed or canceled tasks can be retried; {task_id} is {old.status.value}",
                details={"status": old.status.value},
            )
        created_at = now()
        budget = (old.deadline_at - old.created_at) if old.deadline_at else self.args.workers.task_deadline_s
        task = old.model_copy(
            update={
                "id": new_id("tsk"),
                "status": TaskStatus.queued,
                "progress": None,
                "result": None,
                "error": None,
                "attempts": 0,
                "provider_task_id": None,
                "created_at": created_at,
                "started_at": None,
                "finished_at": None,
                "deadline_at": created_at + budget,
                "version": 0,
                "idempotency_key": None,
                "owner": None,
                "lease_expires_at": None,
                "not_before": None,
                "retry_of": old.id,
            }
        )
        stored, _ = await self.store.create(task)
        try:
            await self.dispatcher.dispatch(stored)
        except Exception:
            log.warning("dispatch of %s failed; left for reconcile", stored.id, exc_info=True)
        return stored

    async def readiness(self) -> dict[str, str]:
        """Run every check; returns ``{name: "ok" | error}``."""

        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), timeout=5)
                return "ok"
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"[:300]

        names = sorted(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))
