"""Task records for store tests."""

from __future__ import annotations

from genpulse.core.schemas import Task, TaskStatus, new_id, now


def make(provider: str = "diffusers", key: str | None = None, fp: str | None = None) -> Task:
    """A new queued text-to-image task, not yet in any store."""
    return Task(
        id=new_id("tsk"),
        provider=provider,
        task_type="text-to-image",
        status=TaskStatus.queued,
        params={"prompt": "x"},
        created_at=now(),
        idempotency_key=key,
        fingerprint=fp,
    )
