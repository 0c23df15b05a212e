"""Asset routes: metadata, upload (multipart, type sniffed from the bytes), content (bytes or a 307 to S3), and
small JPEG thumbnails of images and videos (``genpulse.media.thumbnail``)."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from genpulse.api import uploads
from genpulse.api.caller import Caller
from genpulse.api.routes import service_of
from genpulse.core.schemas import Asset, ErrorEnvelope
from genpulse.media.thumbnail import thumbnail

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


@router.get(
    "/v1/assets/{asset_id}/thumbnail",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        415: {"model": ErrorEnvelope, "description": "Neither an image nor a video this host can decode"},
    },
)
async def get_asset_thumbnail(
    asset_id: str,
    request: Request,
    caller: Caller,
    size: Annotated[int, Query(ge=16, le=1024, description="Longest side in pixels.")] = 256,
) -> Response:
    """A small JPEG of an image asset, or of a video's first frame (at most `size` pixels a side), for galleries;
    `415` for other types, and for videos where the ingress has no decoder (PyAV)."""
    svc = service_of(request)

    def make() -> bytes:
        content = svc.asset_content(asset_id, tenant=caller.tenant())
        return thumbnail(content.read(), content.asset.content_type, size)

    data = await asyncio.to_thread(make)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
