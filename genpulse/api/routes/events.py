"""``GET /v1/events``: the caller's tenant-wide event stream (``genpulse.tasks.tenant_sse``).

A long-lived request like the per-task stream: it holds a slot of the replica's cap (``genpulse.api.long_lived``)
until the client goes away; beyond the cap it is a 503.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from genpulse.api.caller import Caller
from genpulse.api.long_lived import HeldStream, long_lived_of
from genpulse.api.routes import service_of
from genpulse.api.routes.results import parse_event_id
from genpulse.tasks.tenant_sse import tenant_events

router = APIRouter()

_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: a `task` event per status or progress change of any of the tenant's "
        "tasks (`id` = the tenant's event number, `data` = TenantEvent JSON); without `Last-Event-ID` first a "
        "`ready` event (its `id`: where the stream starts); `reset` when resumed past trimmed history (re-read the "
        "list); `: keep-alive` comments. Never ends by itself.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/v1/events", tags=["tasks"], response_class=StreamingResponse, responses=_DOC)
async def tenant_event_stream(
    request: Request,
    caller: Caller,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id.")] = None,
    after: Annotated[str | None, Query(description="Same as `Last-Event-ID`, for clients that cannot set it.")] = None,
) -> StreamingResponse:
    """Stream every status and progress change of the caller's tasks as Server-Sent Events, from now on, or after
    `Last-Event-ID` (`0`: every change still kept). `503` with `Retry-After` while the replica holds its cap of
    long-lived requests."""
    tenant = caller.tenant()
    raw = last_event_id if last_event_id is not None else after
    start = None if raw is None else parse_event_id(raw)
    svc = service_of(request)
    stream = tenant_events(svc.store, tenant, after=start, heartbeat_s=svc.args.server.sse_heartbeat_s)
    slot = long_lived_of(request).take("event stream")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return HeldStream(stream, slot, media_type="text/event-stream", headers=headers)
