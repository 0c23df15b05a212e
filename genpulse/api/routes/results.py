"""Routes that deliver results: the task's event stream (SSE), its webhook log and manual redelivery.

Mounted by ``create_api`` next to the task routes; the logic lives in ``genpulse.tasks.sse`` and
``genpulse.webhooks.manage``, reached through the ``TaskService``. An event stream is a long-lived request: it
holds a slot of the replica's cap (``genpulse.api.long_lived``) until it ends; beyond the cap it is a 503.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from genpulse.api.caller import Caller
from genpulse.api.long_lived import HeldStream, long_lived_of
from genpulse.api.routes import service_of
from genpulse.core.errors import MalformedRequest
from genpulse.tasks.outbox import DeliveryPublic

router = APIRouter()

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `status` and `progress` events (`id` = sequence number, `data` = "
        "TaskEvent JSON; the terminal event adds `task`), `: keep-alive` comments; ends at a terminal state.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


class DeliveryList(BaseModel):
    data: list[DeliveryPublic]


def parse_event_id(raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        raise MalformedRequest(
            "Last-Event-ID must be an integer event id", details={"field": "Last-Event-ID"}
        ) from None
    if value < 0:
        raise MalformedRequest("Last-Event-ID must not be negative", details={"field": "Last-Event-ID"})
    return value


@router.get("/v1/tasks/{task_id}/events", tags=["tasks"], response_class=StreamingResponse, responses=_SSE_DOC)
async def task_event_stream(
    task_id: str,
    request: Request,
    caller: Caller,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id.")] = None,
    after: Annotated[str | None, Query(description="Same as `Last-Event-ID`, for clients that cannot set it.")] = None,
) -> StreamingResponse:
    """Stream every status and progress change of a task as Server-Sent Events, until it ends. `503` with
    `Retry-After` while the replica holds its cap of long-lived requests (`server.max_long_lived`)."""
    start = parse_event_id(last_event_id if last_event_id is not None else after)
    stream = await service_of(request).events(task_id, start, tenant=caller.tenant())  # 404 before the stream starts
    slot = long_lived_of(request).take("event stream")  # released when the response ends, however it ends
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return HeldStream(stream, slot, media_type="text/event-stream", headers=headers)


@router.get("/v1/tasks/{task_id}/webhooks", response_model=DeliveryList, tags=["webhooks"])
async def task_webhooks(task_id: str, request: Request, caller: Caller) -> DeliveryList:
    """The task's webhook message and every delivery attempt (status code, error, timing)."""
    return DeliveryList(data=await service_of(request).webhook_deliveries(task_id, tenant=caller.tenant()))


@router.post(
    "/v1/tasks/{task_id}/webhooks/redeliver", status_code=202, response_model=DeliveryPublic, tags=["webhooks"]
)
async def redeliver_webhook(task_id: str, request: Request, caller: Caller) -> DeliveryPublic:
    """Send a finished task's webhook again (same `webhook-id`, fresh retry window); `409` if it has none."""
    return await service_of(request).redeliver_webhook(task_id, tenant=caller.tenant())
