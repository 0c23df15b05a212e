"""Vendor callbacks: `POST /v1/callbacks/{provider}/{task_id}?token=...` (``genpulse.providers.callbacks``).

No API key: the vendor cannot send one. The per-task token (an HMAC of the server's callback secret) is the
credential; a wrong one, an unknown task, another provider's task or callbacks being off all answer the same
`404`. The body is not read: a callback only makes the task's worker poll the vendor now, over the configured
API. Not in the OpenAPI document (it is for vendors, not clients).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from genpulse.api.routes import service_of

router = APIRouter(tags=["callbacks"])


@router.post("/v1/callbacks/{provider}/{task_id}", include_in_schema=False)
async def vendor_callback(
    provider: str, task_id: str, request: Request, token: Annotated[str, Query(max_length=128)] = ""
) -> dict[str, str]:
    """`200` `{"status": "accepted"}` (the worker polls now) or `{"status": "ignored"}` (the task already ended)."""
    woken = await service_of(request).vendor_callback(provider, task_id, token)
    return {"status": "accepted" if woken else "ignored"}
