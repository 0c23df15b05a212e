"""ActorTaskStore: the default, zero-setup TaskStore, held by a named detached Ray actor.

The actor (``TaskStoreActor``) runs a ``MemoryTaskStore``; every ingress replica and worker talks to it through
``ActorTaskStore``, a thin client that translates Ray failures into our error tree. Its data lives as long as
the Ray cluster (it survives app redeploys, not a cluster restart): use Redis where tasks must outlive that.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from genpulse.core import gc_tuning
from genpulse.core.errors import GenPulseError, ServiceUnavailable
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks.call_batch import Call, CallBatcher, Outcome, run_batch
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.outbox import Delivery
from genpulse.tasks.store import DEFAULT_RETENTION_S, TaskEvent, TenantEvent
from genpulse.tenants.models import Account, ApiKey, LedgerEntry, Tenant, UsageRow
from genpulse.workflows.models import Workflow

ACTOR_NAME = "genpulse-taskstore"
# The hot calls, grouped per event-loop turn into one actor call (``genpulse.tasks.call_batch``); ``wait`` and the
# other long or rare calls go alone.
BATCHED = frozenset({"create", "get", "put", "events", "key_by_hash", "key_hit", "account"})


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=10_000)
class TaskStoreActor(MemoryTaskStore):
    """The MemoryTaskStore as an async actor: one event loop, so every call is atomic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        gc_tuning.tune()

    async def batch(self, calls: list[Call]) -> list[Outcome]:
        """Several callers' calls in one RPC, run in order, each as if it came alone."""
        return await run_batch(self, calls, BATCHED)


class ActorTaskStore:
    def __init__(self, handle: Any) -> None:
        self._actor = handle
        self.batcher = CallBatcher(
            lambda method, args, kwargs: getattr(handle, method).remote(*args, **kwargs), handle.batch.remote
        )

    @classmethod
    def connect(
        cls,
        namespace: str,
        event_history: int = 256,
        placement: dict[str, Any] | None = None,
        *,
        retention_s: float = DEFAULT_RETENTION_S,
        idempotency_ttl_s: float | None = None,
    ) -> ActorTaskStore:
        """Get or create the cluster's store actor (named, detached) in ``namespace``; ``placement`` holds
        actor options (``resources``, ``label_selector``) and the other arguments configure the store, both used
        only when this call creates it (a restarted actor comes back empty, with a new ``epoch``)."""
        handle = TaskStoreActor.options(
            name=ACTOR_NAME, namespace=namespace, lifetime="detached", get_if_exists=True, **(placement or {})
        ).remote(event_history, retention_s=retention_s, idempotency_ttl_s=idempotency_ttl_s)
        return cls(handle)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            if method in BATCHED:
                return await self.batcher.call(method, *args, **kwargs)
            return await getattr(self._actor, method).remote(*args, **kwargs)
        except RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, GenPulseError):
                raise cause from None
            raise
        except (RayActorError, GetTimeoutError) as exc:
            raise ServiceUnavailable(f"task store actor unavailable: {type(exc).__name__}") from None

    async def create(self, task: Task, *, max_open: int | None = None) -> tuple[Task, bool]:
        return await self._call("create", task, max_open=max_open)

    async def get(self, task_id: str) -> Task:
        return await self._call("get", task_id)

    async def put(self, task: Task) -> Task:
        return await self._call("put", task)

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        return await self._call("list", status=status, provider=provider, tenant=tenant, limit=limit, cursor=cursor)

    async def wait(self, task_id: str, after_version: int, timeout: float) -> Task:
        return await self._call("wait", task_id, after_version, timeout)

    async def events(self, task_id: str, after_version: int = 0) -> list[TaskEvent]:
        return await self._call("events", task_id, after_version)

    async def tenant_events(self, tenant: str, after: int = 0, timeout: float = 0) -> list[TenantEvent]:
        return await self._call("tenant_events", tenant, after, timeout)

    async def tenant_event_seq(self, tenant: str) -> int:
        return await self._call("tenant_event_seq", tenant)

    async def outbox_due(self, at: float, limit: int = 100) -> list[Delivery]:
        return await self._call("outbox_due", at, limit)

    async def outbox_get(self, delivery_id: str) -> Delivery:
        return await self._call("outbox_get", delivery_id)

    async def outbox_put(self, delivery: Delivery) -> Delivery:
        return await self._call("outbox_put", delivery)

    async def outbox_list(self, task_id: str) -> list[Delivery]:
        return await self._call("outbox_list", task_id)

    async def epoch(self) -> str:
        return await self._call("epoch")

    async def ping(self) -> None:
        await self._call("ping")

    async def close(self) -> None:
        return None

    # AccountStore: each call is one actor call (``MemoryAccounts`` inside the actor)
    async def tenant_create(self, tenant: Tenant) -> Tenant:
        return await self._call("tenant_create", tenant)

    async def tenant_get(self, tenant_id: str) -> Tenant:
        return await self._call("tenant_get", tenant_id)

    async def tenant_put(self, tenant: Tenant) -> Tenant:
        return await self._call("tenant_put", tenant)

    async def tenant_list(self, limit: int = 50, cursor: str | None = None) -> tuple[list[Tenant], str | None]:
        return await self._call("tenant_list", limit, cursor)

    async def account(self, tenant_id: str) -> Account:
        return await self._call("account", tenant_id)

    async def credit(self, entry: LedgerEntry) -> Account:
        return await self._call("credit", entry)

    async def ledger(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[LedgerEntry], str | None]:
        return await self._call("ledger", tenant_id, limit, cursor)

    async def usage(self, tenant_id: str) -> list[UsageRow]:
        return await self._call("usage", tenant_id)

    async def key_create(self, key: ApiKey) -> ApiKey:
        return await self._call("key_create", key)

    async def key_by_hash(self, digest: str) -> ApiKey:
        return await self._call("key_by_hash", digest)

    async def key_get(self, key_id: str) -> ApiKey:
        return await self._call("key_get", key_id)

    async def key_list(self, tenant_id: str) -> list[ApiKey]:
        return await self._call("key_list", tenant_id)

    async def key_revoke(self, key_id: str) -> ApiKey:
        return await self._call("key_revoke", key_id)

    async def key_hit(self, key_id: str, per_s: float) -> float | None:
        return await self._call("key_hit", key_id, per_s)

    async def key_open(self, key_id: str) -> int:
        return await self._call("key_open", key_id)

    # WorkflowStore: each call is one actor call (``MemoryWorkflows`` inside the actor)
    async def workflow_save(self, workflow: Workflow) -> tuple[Workflow, bool]:
        return await self._call("workflow_save", workflow)

    async def workflow_get(self, tenant_id: str, name: str, version: int | None = None) -> Workflow:
        return await self._call("workflow_get", tenant_id, name, version)

    async def workflow_versions(self, tenant_id: str, name: str) -> list[Workflow]:
        return await self._call("workflow_versions", tenant_id, name)

    async def workflow_list(
        self, tenant_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Workflow], str | None]:
        return await self._call("workflow_list", tenant_id, limit, cursor)

    async def workflow_retire(self, tenant_id: str, name: str, version: int, at: float) -> Workflow:
        return await self._call("workflow_retire", tenant_id, name, version, at)
