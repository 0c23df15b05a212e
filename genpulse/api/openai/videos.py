"""`/v1/videos`: OpenAI's video jobs, each one a GenPulse task (the same id at `/v1/tasks/{id}`).

Create takes multipart (what the `openai` SDK sends) or JSON: `model`, `prompt`, `seconds`, `size` and an
`input_reference` (an uploaded file, or `{"image_url"}` / `{"file_id": "ast_..."}`), which runs the alias as
image-to-video. Status: queued -> `queued`, running -> `in_progress`, succeeded -> `completed`, failed or canceled
-> `failed`. Delete cancels a task still open and deletes its outputs; the task record stays (`content` is then a
404). Every task of a video task type is visible here, also those submitted through `/v1/tasks`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from genpulse.api import uploads
from genpulse.api.caller import Caller
from genpulse.api.openai import catalog
from genpulse.api.openai.errors import OpenAIError, OpenAIRoute
from genpulse.api.openai.images import save_image
from genpulse.api.openai.translate import fingerprint, task_request
from genpulse.api.routes import service_of
from genpulse.core.errors import Conflict, NotFound
from genpulse.core.schemas import Task, TaskStatus

router = APIRouter(tags=["openai"], route_class=OpenAIRoute)
_STATUS = {"queued": "queued", "running": "in_progress", "succeeded": "completed"}


class InputReference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_url: str | None = Field(None, description="An https URL or a `data:image/...;base64,` URI.")
    file_id: str | None = Field(None, description="An asset id from `POST /v1/assets`.")


class VideoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="A video model alias; see `GET /v1/models`.", examples=["tiny-video"])
    prompt: str = Field(min_length=1)
    seconds: int | None = Field(None, ge=1, le=120)
    size: str | None = Field(None, description="`WIDTHxHEIGHT`.")
    input_reference: InputReference | None = None


class VideoError(BaseModel):
    code: str
    message: str


class VideoObject(BaseModel):
    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    error: VideoError | None = None
    model: str
    progress: int
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    seconds: str
    size: str
    status: Literal["queued", "in_progress", "completed", "failed"]


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


def _body_schemas() -> dict[str, Any]:
    """Multipart (an uploaded `input_reference` file) and JSON (`input_reference` as an object), refs inlined."""
    schema = VideoCreate.model_json_schema()
    reference = schema.pop("$defs")["InputReference"]
    as_json = {**schema, "properties": {**schema["properties"], "input_reference": reference}}
    upload = {"type": "string", "format": "binary", "description": "The first frame (PNG, JPEG, WebP)."}
    as_form = {**schema, "properties": {**schema["properties"], "input_reference": upload}}
    return {"multipart/form-data": {"schema": as_form}, "application/json": {"schema": as_json}}


_BODY = _body_schemas()


@router.post("/v1/videos", response_model=VideoObject, openapi_extra={"requestBody": {"content": _BODY}})
async def create_video(
    request: Request, caller: Caller, idempotency_key: Annotated[str | None, Header(max_length=255)] = None
) -> VideoObject:
    """Start a video job (multipart or JSON); poll it with `GET /v1/videos/{id}`."""
    svc = service_of(request)
    fields, upload = await _fields(request)
    try:
        body = VideoCreate.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    model = catalog.resolve(body.model, svc.args, svc.registry, caller, kind="video", out=await svc.out_instances())
    ref = body.input_reference
    image = ref.image_url or ref.file_id if ref else None
    sent = image  # what the request names: an upload by its content (each upload is a new asset id)
    if upload is not None:
        asset = await save_image(request, caller, upload, "input_reference")
        image, sent = asset.id, f"sha256:{asset.sha256}"
    given: dict[str, Any] = {"prompt": body.prompt, "seconds": body.seconds, "size": body.size, "image": image}
    meta = {"seconds": str(body.seconds) if body.seconds else None, "size": body.size, "prompt": body.prompt}
    task_type = model.task_type(image is not None)
    request_ = task_request(model, task_type, given, fps=svc.args.diffusion.fps, metadata=meta)
    same = fingerprint(model, task_type, {**given, "image": sent}, meta)  # not the route's, nor the upload's id
    task, _ = await svc.submit(request_, idempotency_key, caller=caller, fallbacks=model.fallbacks, fingerprint=same)
    return video_of(task)


async def _fields(request: Request) -> tuple[dict[str, Any], UploadFile | None]:
    """The body as fields (``input_reference[image_url]`` nested), and an uploaded input reference."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        if not isinstance(body, dict):
            raise OpenAIError(400, "the body must be a JSON object", code="invalid_json")
        return body, None
    fields: dict[str, Any] = {}
    upload: UploadFile | None = None
    for key, value in (await request.form()).multi_items():
        if isinstance(value, UploadFile):
            upload = value if key == "input_reference" else upload
            if key != "input_reference":
                fields[key] = "(file)"
        elif key.startswith("input_reference[") and key.endswith("]"):
            fields.setdefault("input_reference", {})[key[16:-1]] = value
        else:
            fields[key] = value
    return fields, upload


@router.get("/v1/videos", response_model=VideoList)
async def list_videos(
    request: Request,
    caller: Caller,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["desc"] = "desc",
) -> VideoList:
    """The caller's video jobs, newest first (`order=asc` is not supported); `after`: the last id of a page."""
    svc = service_of(request)
    found: list[Task] = []
    skipping, cursor = after is not None, None
    while len(found) <= limit:
        page, cursor = await svc.list(tenant=caller.tenant(), limit=200, cursor=cursor)
        for task in page:
            if skipping:
                skipping = task.id != after
            elif _is_video(task):
                found.append(task)
        if cursor is None:
            break
    data = [video_of(t) for t in found[:limit]]
    return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=len(found) > limit)  # fmt: skip


@router.get("/v1/videos/{video_id}", response_model=VideoObject)
async def get_video(video_id: str, request: Request, caller: Caller) -> VideoObject:
    """A video job."""
    return video_of(await _video_task(request, caller.tenant(), video_id))


@router.get("/v1/videos/{video_id}/content", response_class=Response)
async def get_video_content(
    video_id: str, request: Request, caller: Caller, variant: Literal["video", "thumbnail"] = "video"
) -> Response:
    """The MP4 (`variant=thumbnail`: the poster PNG); `409` before the job completed."""
    svc = service_of(request)
    task = await _video_task(request, caller.tenant(), video_id)
    if task.status is not TaskStatus.succeeded:
        raise OpenAIError(409, f"video {video_id} is {video_of(task).status}, not completed", code="video_not_ready")
    result = task.result or {}
    if variant == "thumbnail":
        asset = result.get("poster")
    else:
        asset = next((a for a in result.get("assets", []) if str(a["content_type"]).startswith("video/")), None)
    if not asset:
        raise OpenAIError(404, f"video {video_id} has no {variant}", param="variant", code="not_found")
    content = await asyncio.to_thread(svc.asset_content, asset["id"], tenant=caller.tenant())
    return uploads.content_response(content)


@router.delete("/v1/videos/{video_id}", response_model=VideoDeleted)
async def delete_video(video_id: str, request: Request, caller: Caller) -> VideoDeleted:
    """Cancel the job if it is still open and delete its outputs; the task record stays."""
    svc = service_of(request)
    task = await _video_task(request, caller.tenant(), video_id)
    if not task.is_terminal:
        with contextlib.suppress(Conflict):  # it ended meanwhile
            task = await svc.cancel(video_id, tenant=caller.tenant())
    for asset in (task.result or {}).get("assets", []):
        with contextlib.suppress(NotFound):
            await asyncio.to_thread(svc.storage.delete, asset["id"])
    return VideoDeleted(id=video_id)


def _is_video(task: Task) -> bool:
    return task.task_type.endswith("-video")


async def _video_task(request: Request, tenant: str, video_id: str) -> Task:
    task = await service_of(request).get(video_id, tenant=tenant)
    if not _is_video(task):
        raise OpenAIError(404, f"video {video_id} not found", code="not_found")
    return task


def video_of(task: Task) -> VideoObject:
    meta = task.metadata.get("openai") if isinstance(task.metadata.get("openai"), dict) else {}
    params = task.params
    size = meta.get("size") or (f"{params['width']}x{params['height']}" if "width" in params else "")
    seconds = meta.get("seconds") or str(params.get("duration") or params.get("seconds") or "")
    error = VideoError(code=task.error.type, message=task.error.message) if task.error else None
    if task.status is TaskStatus.canceled and error is None:
        error = VideoError(code="canceled", message="the video job was canceled")
    return VideoObject(
        id=task.id,
        created_at=int(task.created_at),
        completed_at=int(task.finished_at) if task.finished_at else None,
        error=error,
        model=str(meta.get("model") or task.provider),
        progress=100 if task.status is TaskStatus.succeeded else int(task.progress or 0),
        prompt=params.get("prompt"),
        seconds=seconds,
        size=size,
        status=_STATUS.get(task.status.value, "failed"),  # type: ignore[arg-type]
    )
