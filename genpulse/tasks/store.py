"""The TaskStore contract: the single source of truth for tasks.

Every implementation passes ``tests/test_store_contract.py``. Rules:

- ``create`` stores a new task at version 1 and emits its first event. With an ``idempotency_key`` it is
  atomic: the same key and fingerprint return the stored task (``created=False``); the same key with another
  fingerprint raises ``Conflict``.
- ``put`` is compare-and-set: the caller passes the task as it read it, changed; the write succeeds only if the
  stored version still equals ``task.version`` and the status change is allowed by ``schemas.ALLOWED``
  (terminal states never change, but for one bookkeeping write: a canceled task's ``owner`` released to None
  once its vendor job is cancelled, ``is_release``). It returns the stored task (version + 1) and emits one event.
  A lost race raises ``Conflict`` and writes nothing; callers re-read and decide again (``mutate`` does this).
- Events: the first write and every write that changes status or progress record one event (``seq`` = the
  version written). Writes that change neither (lease renewals, checkpoints) bump the version but record none.
- ``wait`` returns at once when the task's version already exceeds ``after_version``, else once an event after
  it is recorded or ``timeout`` passes; it is driven by the store's own change notification, not by polling.
- ``events`` returns the recorded events after a version (at most ``event_history`` per task), oldest first.
- Tenant events (``tenant_events``): every recorded event is also appended, in the same write, to its tenant's
  log, numbered ``1, 2, 3...`` per tenant (``TenantEvent.seq``; at most ``TENANT_EVENT_HISTORY`` kept, older ones
  trimmed). ``tenant_events`` returns those after ``after``, oldest first, waiting up to ``timeout`` for one;
  ``tenant_event_seq`` is the number of the tenant's latest event (0: none yet).
- ``list`` is newest first, filtered by status, provider and/or tenant, paginated by an opaque cursor; it reads an index
  per filter (never every stored id).
- Retention: a terminal task is deleted ``retention_s`` after it ends, with its events and webhook deliveries
  (from then on ``NotFound``, and ``list`` no longer shows it); queued and running tasks are never deleted. An
  idempotency key holds for ``idempotency_ttl_s`` (default ``retention_s``) after its first use, and no longer
  than its task: a key whose task is gone is free again. A reused key with another fingerprint raises
  ``Conflict`` without naming the other task. Keys are opaque to the store; ``scoped_key`` gives each kind of
  caller its own key space.
- ``epoch`` is the store's generation marker: written once when the store starts empty, it changes only when
  the store lost its data (an actor restarted empty, a Redis without persistence restarted or flushed).
- The webhook outbox (``genpulse.tasks.outbox``): the write that makes a task with a ``webhook_url`` terminal
  also stores its ``Delivery`` (pending, due at once), atomically. ``outbox_due`` lists pending deliveries due
  by a time, soonest first; ``outbox_put`` is CAS on ``Delivery.version`` (version 0 creates, ``Conflict`` if
  it exists); ``outbox_get`` raises ``NotFound``; ``outbox_list`` gives a task's deliveries (none: empty list).
- Tenants, keys and credits (``genpulse.tenants.account_store``): a create holds the task's price and the write
  that ends it settles or refunds it, in the same atomic write as the task (``genpulse.tenants.ledger``).
- Workflows (``genpulse.workflows.store``): a tenant's stored ComfyUI workflows and their versions.
- Every method raises ``NotFound`` for an unknown id and ``ServiceUnavailable`` when the backend is down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from genpulse.core.errors import Conflict
from genpulse.core.schemas import ALLOWED, Task, TaskStatus, now
from genpulse.tasks.outbox import Delivery
from genpulse.tenants.account_store import AccountStore
from genpulse.workflows.store import WorkflowStore

DEFAULT_RETENTION_S = 7 * 24 * 3600.0  # StoreConfig.retention_s

CLIENT_SCOPE = "client"  # keys sent by API callers in auth mode off; a tenant's are ``tenant_scope(id)``
CHILD_SCOPE = "child"  # keys of pipeline steps, ``{parent id}:{step}``: no caller can reach them


def tenant_scope(tenant_id: str) -> str:
    """The idempotency key space of one tenant's callers."""
    return f"tenant.{tenant_id}"


def scoped_key(scope: str, key: str) -> str:
    """The stored form of an idempotency key: its scope (ours, without ``/``), then the caller's key."""
    if "/" in scope:
        raise ValueError(f"idempotency scope {scope!r} must not contain '/'")
    return f"{scope}/{key}"


def records_event(before: Task | None, after: Task) -> bool:
    """Whether the write ``before -> after`` records an event: the first write, and status or progress changes."""
    return before is None or before.status != after.status or before.progress != after.progress


class TaskEvent(BaseModel):
    seq: int
    task_id: str
    status: TaskStatus
    progress: float | None = None
    at: float

    @classmethod
    def of(cls, task: Task) -> TaskEvent:
        return cls(seq=task.version, task_id=task.id, status=task.status, progress=task.progress, at=now())


TENANT_EVENT_HISTORY = 2048


class TenantEvent(BaseModel):
    """One change of one of a tenant's tasks: ``seq`` numbers the tenant's log, ``version`` is the task's."""

    seq: int
    task_id: str
    version: int
    status: TaskStatus
    progress: float | None = None
    provider: str
    task_type: str
    at: float

    @classmethod
    def of(cls, task: Task, seq: int = 0) -> TenantEvent:
        return cls(
            seq=seq,
            task_id=task.id,
            version=task.version,
            status=task.status,
            progress=task.progress,
            provider=task.provider,
            task_type=task.task_type,
            at=now(),
        )


@runtime_checkable
class TaskStore(AccountStore, WorkflowStore, Protocol):
    async def create(self, task: Task, *, max_open: int | None = None) -> tuple[Task, bool]: ...

    async def get(self, task_id: str) -> Task: ...

    async def put(self, task: Task) -> Task: ...

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]: ...

    async def wait(self, task_id: str, after_version: int, timeout: float) -> Task: ...

    async def events(self, task_id: str, after_version: int = 0) -> list[TaskEvent]: ...

    async def tenant_events(self, tenant: str, after: int = 0, timeout: float = 0) -> list[TenantEvent]: ...

    async def tenant_event_seq(self, tenant: str) -> int: ...

    async def outbox_due(self, at: float, limit: int = 100) -> list[Delivery]: ...

    async def outbox_get(self, delivery_id: str) -> Delivery: ...

    async def outbox_put(self, delivery: Delivery) -> Delivery: ...

    async def outbox_list(self, task_id: str) -> list[Delivery]: ...

    async def epoch(self) -> str: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def is_release(stored: Task, new: Task) -> bool:
    """Whether ``new`` only releases the owner of a canceled ``stored``: the write that says its vendor job is no
    longer owed a cancel (jobs/cancel_sweep.py). Nothing else of a terminal record ever changes."""
    if stored.status != TaskStatus.canceled or stored.owner is None or new.owner is not None:
        return False
    return new.model_copy(update={"owner": stored.owner, "version": stored.version}) == stored


def check_transition(stored: Task, new: Task) -> None:
    """Raise ``Conflict`` unless ``stored -> new`` is a legal change."""
    if new.status not in ALLOWED[stored.status] and not is_release(stored, new):
        if stored.is_terminal:
            raise Conflict(f"task {stored.id} is already {stored.status.value}", details={"status": stored.status})
        raise Conflict(f"task {stored.id}: {stored.status.value} -> {new.status.value} is not allowed")


async def mutate(
    store: TaskStore,
    task_id: str,
    change: Callable[[Task], Task | Awaitable[Task | None] | None],
    tries: int = 20,
    *,
    known: Task | None = None,
) -> Task | None:
    """Read, apply ``change``, CAS; retry on a lost race. ``change`` returns None to give up (no write).

    ``known``: the task as the caller last wrote or read it (a worker's own leased task); the first try applies
    ``change`` to it without reading, one round trip instead of two. A stale ``known`` never decides anything: a
    write from it loses the CAS, and giving up on it is decided again on the stored task, as after a lost race."""
    for _ in range(tries):
        if known is None:
            current, stored = await store.get(task_id), True
        else:
            current, stored, known = known, False, None
        proposed = change(current.model_copy(deep=True))
        if isinstance(proposed, Awaitable):
            proposed = await proposed
        if proposed is None:
            if not stored:
                continue
            return None
        try:
            return await store.put(proposed)
        except Conflict:
            latest = await store.get(task_id)
            if latest.is_terminal or latest.version == proposed.version:
                raise  # not a lost race: the change itself is illegal
            continue
    raise Conflict(f"task {task_id}: too many concurrent updates")
