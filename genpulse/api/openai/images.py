"""`POST /v1/images/generations` and `POST /v1/images/edits`: a task, waited for, answered as OpenAI's images.

The request waits for its task up to `server.max_wait_s` (holding a long-lived slot); a task still running then is
a 504 `task_timeout` naming the task to poll at `/v1/tasks/{id}`. A failed task is an error with its own status
(`code`: the task's error type). URLs are absolute: `storage.public_base_url`, else the request's own base URL.
"""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from genpulse.api.caller import Caller
from genpulse.api.long_lived import long_lived_of
from genpulse.api.openai import catalog
from genpulse.api.openai.errors import OpenAIError, OpenAIRoute
from genpulse.api.openai.translate import fingerprint, task_request
from genpulse.api.routes import service_of
from genpulse.core.errors import error_from_dict
from genpulse.core.schemas import Asset, Task, TaskRequest
from genpulse.media.sniff import sniff
from genpulse.tenants.auth import Principal

router = APIRouter(tags=["openai"], route_class=OpenAIRoute)
ResponseFormat = Literal["url", "b64_json"]


class ImageGenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="A model alias; see `GET /v1/models`.", examples=["tiny"])
    prompt: str = Field(min_length=1)
    n: int = Field(1, ge=1, le=10)
    size: str | None = Field(None, description="`WIDTHxHEIGHT`, e.g. `512x512`.")
    response_format: ResponseFormat = "url"
    quality: str | None = Field(None, description="Passed on where the model has a `quality` param.")
    style: str | None = Field(None, description="Passed on where the model has a `style` param.")
    user: str | None = Field(None, max_length=256, description="Kept in the task's metadata.")


class ImageData(BaseModel):
    url: str | None = None
    b64_json: str | None = None


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]


@router.post("/v1/images/generations", response_model=ImagesResponse, response_model_exclude_none=True)
async def generate_images(
    body: ImageGenerate,
    request: Request,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> ImagesResponse:
    """Generate images with a model alias (OpenAI's Images API); waits for the task."""
    svc = service_of(request)
    model = catalog.resolve(body.model, svc.args, svc.registry, caller, kind="image", out=await svc.out_instances())
    given = body.model_dump(include={"prompt", "n", "size", "quality", "style"})
    task_type, meta = model.task_type(False), _user(body.user)
    task = task_request(model, task_type, given, fps=svc.args.diffusion.fps, metadata=meta)
    same = fingerprint(model, task_type, given, meta)
    return await _answer(request, caller, task, idempotency_key, body.response_format, model.fallbacks, same)


_EDIT_FIELDS = {"image", "prompt", "model", "n", "size", "response_format", "user", "quality", "style"}


@router.post("/v1/images/edits", response_model=ImagesResponse, response_model_exclude_none=True)
async def edit_image(
    request: Request,
    caller: Caller,
    image: Annotated[UploadFile, File(description="The image to edit (PNG, JPEG, WebP).")],
    prompt: Annotated[str, Form(min_length=1)],
    model: Annotated[str, Form(description="A model alias that can run image-to-image.")],
    n: Annotated[int, Form(ge=1, le=10)] = 1,
    size: Annotated[str | None, Form()] = None,
    response_format: Annotated[ResponseFormat, Form()] = "url",
    quality: Annotated[str | None, Form()] = None,
    style: Annotated[str | None, Form()] = None,
    user: Annotated[str | None, Form(max_length=256)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> ImagesResponse:
    """Edit one image (multipart) with a model alias that supports image-to-image; waits for the task."""
    extra = sorted(set((await request.form()).keys()) - _EDIT_FIELDS)
    if extra:
        raise OpenAIError(400, f"unsupported parameter(s): {', '.join(extra)}", param=extra[0],
                          code="unsupported_parameter")  # fmt: skip
    svc = service_of(request)
    found = catalog.resolve(model, svc.args, svc.registry, caller, kind="image", out=await svc.out_instances())
    task_type = found.task_type(True)
    asset = await save_image(request, caller, image, "image")
    given = {"prompt": prompt, "n": n, "size": size, "quality": quality, "style": style, "image": asset.id}
    task = task_request(found, task_type, given, fps=svc.args.diffusion.fps, metadata=_user(user))
    same = fingerprint(found, task_type, {**given, "image": f"sha256:{asset.sha256}"}, _user(user))  # not the id
    return await _answer(request, caller, task, idempotency_key, response_format, found.fallbacks, same)


async def save_image(request: Request, caller: Principal, upload: UploadFile, param: str) -> Asset:
    """Store an uploaded input image as the caller's asset; its id goes into the task's params."""
    svc = service_of(request)
    limit = svc.args.storage.max_input_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise OpenAIError(413, f"{param} exceeds {limit} bytes", param=param, code="payload_too_large")
    content_type = sniff(data[:64])
    if content_type is None or not content_type.startswith("image/"):
        raise OpenAIError(400, f"{param} is not a PNG, JPEG, GIF or WebP image", param=param, code="invalid_image")
    return await asyncio.to_thread(svc.save_upload, io.BytesIO(data), content_type, tenant=caller.tenant())


def _user(user: str | None) -> dict[str, Any]:
    return {"user": user} if user else {}


async def _answer(
    request: Request,
    caller: Principal,
    body: TaskRequest,
    key: str | None,
    response_format: ResponseFormat,
    fallbacks: tuple[str, ...],
    same: str,
) -> ImagesResponse:
    task = await run_to_end(request, caller, body, key, fallbacks, same)
    assets = [a for a in (task.result or {}).get("assets", []) if str(a.get("content_type", "")).startswith("image/")]
    if response_format == "url":
        data = [ImageData(url=absolute_url(request, a["url"])) for a in assets]
    else:
        storage = service_of(request).storage
        blobs = await asyncio.gather(*(asyncio.to_thread(storage.read, a["id"]) for a in assets))
        data = [ImageData(b64_json=base64.b64encode(blob).decode()) for blob in blobs]
    return ImagesResponse(created=int(task.created_at), data=data)


async def run_to_end(
    request: Request,
    caller: Principal,
    body: TaskRequest,
    key: str | None,
    fallbacks: tuple[str, ...] = (),
    same: str | None = None,
) -> Task:
    """Submit and wait (a long-lived slot, taken before the submit: a refused request stores nothing). ``same``:
    the request's fingerprint for idempotency (``translate.fingerprint``)."""
    svc = service_of(request)
    wait = svc.args.server.max_wait_s
    with long_lived_of(request).take("wait"):
        task, _ = await svc.submit(body, key, caller=caller, fallbacks=fallbacks, fingerprint=same)
        task = await svc.get(task.id, wait, tenant=caller.tenant())
    if not task.is_terminal:
        raise OpenAIError(504, f"task {task.id} is still {task.status.value} after {wait:g} s; poll GET "
                          f"/v1/tasks/{task.id}", code="task_timeout")  # fmt: skip
    if task.error is not None:
        failed = error_from_dict(task.error.model_dump())
        raise OpenAIError(
            400 if failed.status_code == 422 else failed.status_code,
            f"task {task.id} {task.status.value}: {task.error.message}",
            code=task.error.type,
        )
    if task.status.value != "succeeded":
        raise OpenAIError(409, f"task {task.id} was {task.status.value}", code="task_failed")
    return task


def absolute_url(request: Request, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    base = service_of(request).args.storage.public_base_url or str(request.base_url)
    return base.rstrip("/") + url
