"""ActorTaskStore: the default, zero-setup TaskStore, held by a named detached Ray actor.

The actor (``TaskStoreActor``) runs a ``MemoryTaskStore``; every ingress replica and worker talks to it through
``ActorTaskStore``, a thin client that translates Ray failures into our error tree. Its data lives as long as
the Ray cluster (it survives app redeploys, not a cluster restart): use Redis where tasks must outlive that.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from genpulse.core.errors import GenPulseError, ServiceUnavailable
from genpulse.core.schemas import Task, TaskStatus
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.outbox import Delivery
from genpulse.tasks.store import DEFAULT_RETENTION_S, TaskEvent

ACTOR_NAME = "genpulse-taskstore"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=10_000)
class TaskStoreActor(MemoryTaskStore):
    """The MemoryTaskStore as an async actor: one event loop, so every call is atomic."""


class ActorTaskStore:
    def __init__(self, handle: Any) -> None:
        self._actor = handle

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
            return await getattr(self._actor, method).remote(*args, **kwargs)
        except RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, GenPulseError):
                raise cause from None
            raise
        except (RayActorError, GetTimeoutError) as exc:
            raise ServiceUnavailable(f"task store actor unavailable: {type(exc).__name__}") from None

    async def create(self, task: Task) -> tuple[Task, bool]:
        return await self._call("create", task)

    async def get(self, task_id: str) -> Task:
        return await self._call("get", task_id)

    async def put(self, task: Task) -> Task:
        return await self._call("put", task)

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        return await self._call("list", status=status, provider=provider, limit=limit, cursor=cursor)

    async def wait(self, task_id: str, after_version: int, timeout: float) -> Task:
        return await self._call("wait", task_id, after_version, timeout)

    async def events(self, task_id: str, after_version: int = 0) -> list[TaskEvent]:
        return await self._call("events", task_id, after_version)

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
