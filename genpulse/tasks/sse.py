"""Server-Sent Events of one task: every status and progress change, resumable, with heartbeats.

``task_events`` yields the wire frames. Each change is one event: ``id`` is the event's sequence number (the
task's version after the change), ``event`` is ``status`` (the status changed, or the first event sent) or
``progress``, ``data`` is the ``TaskEvent`` JSON; the terminal event also carries ``task``, the public task with
its result or error, and ends the stream. Writes that change neither status nor progress (lease renewals) are
not sent. A client resumes with ``Last-Event-ID``: only changes after that sequence number follow. Changes
already trimmed from the store's bounded history (``store.event_history``) are skipped: the events that
follow carry the current state. While nothing changes, a comment line (``: keep-alive``) goes out every
``heartbeat_s``. Waiting is ``store.wait``: no polling.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from genpulse.core.schemas import TaskStatus, now
from genpulse.tasks import TaskEvent, TaskStore

RETRY_MS = 2000
HEARTBEAT = b": keep-alive\n\n"


def frame(seq: int, kind: str, data: dict[str, Any]) -> bytes:
    return f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def task_events(
    store: TaskStore, task_id: str, *, after: int = 0, heartbeat_s: float = 15
) -> AsyncIterator[bytes]:
    """The event stream of ``task_id`` after sequence number ``after``; ends after the terminal event."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    cursor = after
    last: tuple[TaskStatus, float | None] | None = None
    if after > 0:
        seen = [e for e in await store.events(task_id, after - 1) if e.seq == after]
        last = (seen[0].status, seen[0].progress) if seen else None
    while True:
        task = await store.get(task_id)  # read before the events: a version it shows has its event recorded
        events = await store.events(task_id, cursor)
        if not events and task.version > cursor:  # history trimmed past the cursor: the present stands in
            events = [
                TaskEvent(seq=task.version, task_id=task.id, status=task.status, progress=task.progress, at=now())
            ]
        for event in events:
            cursor = event.seq
            state = (event.status, event.progress)
            if state == last and not event.status.is_terminal:
                continue
            kind = "progress" if last is not None and last[0] == event.status else "status"
            last = state
            data = event.model_dump(mode="json")
            if event.status.is_terminal:
                data["task"] = (await store.get(task_id)).public().model_dump(mode="json")
                yield frame(event.seq, kind, data)
                return
            yield frame(event.seq, kind, data)
        if events:
            continue
        if task.is_terminal:  # resumed after the terminal event: nothing more will come
            return
        if (await store.wait(task_id, cursor, heartbeat_s)).version <= cursor:
            yield HEARTBEAT
