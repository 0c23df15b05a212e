"""The webhook outbox record, kept by the TaskStore next to the task it reports.

A ``Delivery`` is created by the store itself, in the same atomic write that makes a task with a
``webhook_url`` terminal (``Delivery.for_task``), so a finished task can never miss its webhook. Its ``id`` is
the Standard Webhooks ``webhook-id``, stable over every retry and redelivery (``msg_`` + the task id's digits);
its ``body`` is fixed at creation, so every attempt sends the same bytes. The deliverer rewrites it with CAS
(``version``), like tasks. ``due_at`` is set while the delivery is ``pending`` and None otherwise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from genpulse.core.schemas import DEFAULT_TENANT, Task, now

MAX_ATTEMPTS_KEPT = 50


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class DeliveryAttempt(BaseModel):
    at: float = Field(description="Unix seconds when the attempt started.")
    status_code: int | None = Field(None, description="The receiver's HTTP status; None when no answer came.")
    error: str | None = Field(None, description="Why the attempt failed, when it did.")
    duration_ms: float = 0


class DeliveryPublic(BaseModel):
    """One webhook message of a task and its attempts, as ``GET /v1/tasks/{id}/webhooks`` shows it."""

    id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    task_id: str
    event_type: str = Field(description="`task.succeeded`, `task.failed` or `task.canceled`.")
    url: str
    status: DeliveryStatus
    attempts: list[DeliveryAttempt] = Field(default_factory=list, description="Most recent last (50 kept).")
    attempt_count: int = 0
    created_at: float
    due_at: float | None = Field(None, description="When the next attempt is due, while pending.")
    window_start: float = Field(description="Retries stop `webhooks.retry_window_s` after this.")


class Delivery(DeliveryPublic):
    body: str = Field(description="The exact JSON body sent on every attempt.")
    version: int = 0
    tenant_id: str = Field(DEFAULT_TENANT, description="Whose signing secret signs it.")

    @classmethod
    def for_task(cls, task: Task, at: float | None = None) -> Delivery:
        at = now() if at is None else at
        event_type = f"task.{task.status.value}"
        payload = {
            "type": event_type,
            "timestamp": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
            "data": task.public().model_dump(mode="json"),
        }
        return cls(
            id=message_id(task.id),
            task_id=task.id,
            event_type=event_type,
            url=task.webhook_url or "",
            status=DeliveryStatus.pending,
            created_at=at,
            due_at=at,
            window_start=at,
            body=json.dumps(payload, separators=(",", ":"), sort_keys=True),
            tenant_id=task.tenant_id,
        )

    def public(self) -> DeliveryPublic:
        return DeliveryPublic.model_validate(self.model_dump(include=set(DeliveryPublic.model_fields)))


def message_id(task_id: str) -> str:
    return "msg_" + task_id.split("_", 1)[-1]


def needs_delivery(before: Task, after: Task) -> bool:
    """Whether the write ``before -> after`` is the one that must enqueue the task's webhook."""
    return bool(after.webhook_url) and after.is_terminal and not before.is_terminal
