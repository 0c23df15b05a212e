"""Server-Sent Events of one tenant: every status and progress change of any of its tasks, resumable.

``tenant_events`` yields the wire frames of ``GET /v1/events``. Each change is one ``task`` event: ``id`` is its
number in the tenant's log (``TenantEvent.seq``), ``data`` the ``TenantEvent`` JSON (task id, version, status,
progress, provider, task type, time). Without ``after`` (no ``Last-Event-ID``) the stream starts at the present:
only changes from then on, after a ``ready`` event whose ``id`` is where it starts (read the task list after it:
nothing is missed in between); a client resumes with ``Last-Event-ID`` (``0``: the whole kept log). When
some of the changes after that id were already trimmed from the log (``TENANT_EVENT_HISTORY``), a ``reset``
event comes first: re-read the task list, then keep following. The stream never ends by itself; while nothing
changes, ``: keep-alive`` goes out every ``heartbeat_s``. Waiting is ``store.tenant_events``'s own: no polling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from genpulse.tasks.sse import HEARTBEAT, RETRY_MS, frame
from genpulse.tasks.store import TaskStore


async def tenant_events(
    store: TaskStore, tenant: str, *, after: int | None = None, heartbeat_s: float = 15
) -> AsyncIterator[bytes]:
    """The tenant's event stream after log number ``after`` (None: from now); runs until the client goes away."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    if after is None:
        after = await store.tenant_event_seq(tenant)
        yield frame(after, "ready", {"after": after})
    cursor, first = after, True
    while True:
        events = await store.tenant_events(tenant, cursor, timeout=heartbeat_s)
        if not events:
            yield HEARTBEAT
            continue
        if first and after > 0 and events[0].seq > after + 1:
            yield frame(events[0].seq - 1, "reset", {"after": after, "next": events[0].seq})
        first = False
        for event in events:
            cursor = event.seq
            yield frame(event.seq, "task", event.model_dump(mode="json"))
