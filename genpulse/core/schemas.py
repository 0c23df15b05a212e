"""Wire types: what the API accepts and returns, and what the TaskStore keeps."""

from __future__ import annotations

import hashlib
import json
import os
import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genpulse.tenants.billing import Billing

DEFAULT_TENANT = "ten_default"  # every caller while ``auth.mode`` is ``off``
SYSTEM_TENANT = "ten_system"  # owns GenPulse's own intermediate assets; no key can act as it


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({TaskStatus.succeeded, TaskStatus.failed, TaskStatus.canceled})

# The status machine (docs/architecture.md, "The flow of one task"). `running -> queued` is a retry backoff or a
# released lease. Terminal states are final: the retry endpoint re-runs a failed or canceled task as a new task
# with `retry_of` set.
ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.queued: frozenset({TaskStatus.queued, TaskStatus.running, *TERMINAL}),
    TaskStatus.running: frozenset({TaskStatus.running, TaskStatus.queued, *TERMINAL}),
    TaskStatus.succeeded: frozenset(),
    TaskStatus.failed: frozenset(),
    TaskStatus.canceled: frozenset(),
}


class Priority(StrEnum):
    high = "high"
    normal = "normal"
    low = "low"


def now() -> float:
    return time.time()


def new_id(prefix: str) -> str:
    """Time-ordered ids: 12 hex digits of milliseconds, then 12 random hex digits."""
    return f"{prefix}_{int(time.time() * 1000):012x}{os.urandom(6).hex()}"


class Asset(BaseModel):
    """A stored output or upload."""

    id: str = Field(description="Stable asset id (`ast_...`).")
    content_type: str = Field(description="MIME type, e.g. `image/png`.")
    bytes: int = Field(description="Size in bytes.")
    sha256: str = Field(description="Hex SHA-256 of the content.")
    url: str = Field(description="Where to download the content.")
    width: int | None = Field(None, description="Pixel width, for images.")
    height: int | None = Field(None, description="Pixel height, for images.")
    created_at: float = Field(default_factory=now, description="Unix seconds.")
    tenant_id: str = Field(DEFAULT_TENANT, description="The tenant that owns it (made or uploaded it).")


class TaskError(BaseModel):
    type: str = Field(description="Machine-readable error type from the GenPulse error tree.")
    message: str
    retryable: bool = False
    provider_code: str | None = Field(None, description="The vendor's own error code, when there is one.")


class RouteAttempt(BaseModel):
    """A provider instance a task left: it surely refused the task's submit, and the model alias that made the
    task had a further route (docs/openai.md, "Failover")."""

    provider: str = Field(description="The provider instance that refused the task.")
    error: TaskError = Field(description="Its refusal (connection refused, rate limit, out of credit, ...).")
    attempts: int = Field(description="The task's `attempts` when it moved on.")
    at: float = Field(description="When it moved on (Unix seconds).")


class TaskRequest(BaseModel):
    """Body of `POST /v1/tasks`. `params` are validated by the provider's schema for `task_type`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # also "inf" strings; see api.finite_numbers
    provider: str = Field(description="Provider name; see `GET /v1/providers`.", examples=["diffusers"])
    task_type: str = Field(description="Task type the provider supports.", examples=["text-to-image"])
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Task parameters; JSON Schema at `GET /meta/schemas/{provider}`.",
        examples=[{"prompt": "a red fox", "width": 64, "height": 64}],
    )
    idempotency_key: str | None = Field(
        None, max_length=255, description="Same key and body return the same task; same key, other body: 409."
    )
    webhook_url: str | None = Field(None, max_length=2048, description="Called when the task ends.")
    priority: Priority = Field(Priority.normal, description="Queue order at the provider's rate limiter.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Opaque data echoed back in the task.")
    deadline_s: float | None = Field(None, gt=0, description="Seconds from now after which the task fails.")

    def fingerprint(self) -> str:
        """Hash of everything that defines the job (not the key itself), for idempotency checks."""
        body = self.model_dump(mode="json", exclude={"idempotency_key"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class TaskPublic(BaseModel):
    """A task as the API returns it."""

    id: str
    provider: str
    task_type: str
    status: TaskStatus
    progress: float | None = Field(None, description="0-100, when the runner reports it.")
    params: dict[str, Any]
    result: dict[str, Any] | None = Field(None, description='`{"assets": [Asset, ...], ...}` on success.')
    error: TaskError | None = None
    attempts: int = Field(0, description="How many times a worker started this task.")
    provider_task_id: str | None = Field(None, description="The vendor's job id, checkpointed at submit.")
    priority: Priority = Priority.normal
    webhook_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(description="Unix seconds.")
    started_at: float | None = None
    finished_at: float | None = None
    deadline_at: float | None = Field(None, description="Unix seconds after which the task fails.")
    retry_of: str | None = Field(None, description="The failed task this one re-runs (`POST .../retry`).")
    tenant_id: str = Field(DEFAULT_TENANT, description="The tenant that owns the task.")
    billing: Billing | None = Field(None, description="The hold and its settlement or refund, for a priced task.")
    route_attempts: list[RouteAttempt] = Field(
        default_factory=list,
        description="Provider instances this task failed over from, oldest first (`provider`: where it is now).",
    )


class Task(TaskPublic):
    """The stored record: the public view plus bookkeeping for CAS, idempotency and leases."""

    version: int = Field(0, description="Incremented by every write; the CAS token and the event sequence.")
    idempotency_key: str | None = None
    fingerprint: str | None = None
    owner: str | None = Field(None, description="Worker holding the lease.")
    submit_pending: bool = Field(
        False, description="A vendor submit may be in flight (set before it, cleared by the job id's checkpoint)."
    )
    submit_pending_at: float | None = Field(None, description="When the submit-in-flight mark was set (Unix s).")
    lease_expires_at: float | None = None
    not_before: float | None = Field(None, description="Retry backoff: do not start before this time.")
    key_id: str | None = Field(None, description="The API key that submitted it (its concurrent-task limit).")
    fallbacks: list[str] = Field(
        default_factory=list,
        description="Further routes of the model alias that made it: provider instances to fail over to, in order.",
    )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def public(self) -> TaskPublic:
        return TaskPublic.model_validate(self.model_dump(include=set(TaskPublic.model_fields)))

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Task:
        return cls.model_validate_json(raw)


class TaskPage(BaseModel):
    data: list[TaskPublic]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page.")


class ErrorBody(BaseModel):
    type: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody
