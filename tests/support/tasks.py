"""Task records for store tests, and a task's progress values read from its event stream."""

from __future__ import annotations

import json

import httpx

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


def progress_of(client: httpx.Client, task_id: str) -> list[float]:
    """The task's progress values in order, from its event stream (which ends after the terminal event)."""
    values = []
    with client.stream("GET", f"/v1/tasks/{task_id}/events") as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line.removeprefix("data:"))
                if event.get("progress") is not None:
                    values.append(event["progress"])
    return values
