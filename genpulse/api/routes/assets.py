"""Asset routes: metadata, upload (multipart, type sniffed from the bytes), content (bytes or a 307 to S3)."""

from __future__ import annotations

import asyncio
import functools

from fastapi import APIRouter, Request
from fastapi.responses import Response

from genpulse.api import uploads
from genpulse.api.caller import Caller
from genpulse.api.routes import service_of
from genpulse.core.schemas import Asset, ErrorEnvelope

router = APIRouter(tags=["assets"])


@router.get("/v1/assets/{asset_id}", response_model=Asset)
async def get_asset(asset_id: str, request: Request, caller: Caller) -> Asset:
    """An asset's metadata (yours only: another tenant's id is a `404`)."""
    return await asyncio.to_thread(service_of(request).asset, asset_id, tenant=caller.tenant())


@router.post(
    "/v1/assets",
    status_code=201,
    response_model=Asset,
    openapi_extra=uploads.UPLOAD_OPENAPI,
    responses={415: {"model": ErrorEnvelope, "description": "File type not accepted"}},
)
async def upload_asset(request: Request, caller: Caller) -> Asset:
    """Upload a file (multipart field `file`); its type is sniffed from the bytes. Returns the Asset."""
    svc = service_of(request)
    save = functools.partial(svc.save_upload, tenant=caller.tenant())
    return await uploads.receive_upload(request, svc.args.storage, save)


@router.get("/v1/assets/{asset_id}/content", response_class=Response)
async def get_asset_content(asset_id: str, request: Request, caller: Caller) -> Response:
    """The bytes (local storage), or `307` to a short-lived presigned URL (S3)."""
    content = await asyncio.to_thread(service_of(request).asset_content, asset_id, tenant=caller.tenant())
    return uploads.content_response(content)
