"""Tasks: the model's store contract and its implementations, chosen by ``store.url``."""

from __future__ import annotations

from typing import Any

from genpulse.core.config import StoreConfig
from genpulse.tasks.store import TaskEvent, TaskStore, mutate

__all__ = ["TaskEvent", "TaskStore", "mutate", "open_store"]


def open_store(config: StoreConfig, namespace: str, placement: dict[str, Any] | None = None) -> TaskStore:
    """The configured store: Redis when ``config.url`` is set, else the cluster's store actor.

    ``placement``: Ray actor options (``resources``, ``label_selector``) for the store actor, if it is created.
    """
    if config.backend == "redis":
        from genpulse.tasks.redis_store import RedisTaskStore

        return RedisTaskStore(
            config.url or "",
            config.event_history,
            config.max_connections,
            retention_s=config.retention_s,
            idempotency_ttl_s=config.idempotency_ttl_s,
        )
    from genpulse.tasks.actor_store import ActorTaskStore

    return ActorTaskStore.connect(
        namespace,
        event_history=config.event_history,
        placement=placement,
        retention_s=config.retention_s,
        idempotency_ttl_s=config.idempotency_ttl_s,
    )
