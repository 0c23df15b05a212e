"""Provider ``kling``: Kling AI images, text-to-video and image-to-video (the ``/v1`` task APIs).

Auth: a JWT HS256 bearer token (``iss`` = access key, signed with the secret key, 30 min, renewed 5 min
before expiry). Every reply is ``{"code", "message", "request_id", "data"}``; ``code != 0`` is an error, mapped
by ``_ERRORS``. Jobs: create ``POST /v1/{kind}`` → ``data.task_id``; query ``GET /v1/{kind}/{task_id}``;
``data.task_status`` ``submitted | processing | succeed | failed``. Outputs: ``data.task_result.images[].url``
or ``.videos[].url``. Kling has no cancel API. Config: ``access_key``, ``secret_key``, ``base_url``.
Every submit carries our task id as ``external_task_id``, and the query endpoint accepts it in place of the
task id: a submit whose reply was lost is found (``find``) instead of being sent again. With callbacks on
(``server.public_url``), it also carries ``callback_url``: Kling POSTs the query envelope there when the job
changes, and the task's worker polls at once (``genpulse.providers.callbacks``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genpulse.core.config import AppArgs
from genpulse.core.errors import (
    ContentModerated,
    GenPulseError,
    InsufficientBalance,
    MalformedReply,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.media.inputs import ImageRef, split_image
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput
from genpulse.providers.http import send_json
from genpulse.providers.request_signing import JwtCache

_STRICT = ConfigDict(extra="forbid")
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"]
VideoModel = Literal[
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
]


class KlingTextToImage(BaseModel):
    """Kling image generation (`POST /v1/images/generations`); optional reference image."""

    model_config = _STRICT
    model_name: Literal["kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1"] = Field(
        "kling-v1", description="Kling image model."
    )
    prompt: str = Field(min_length=1, max_length=2500, description="What to draw.")
    negative_prompt: str | None = Field(None, max_length=2500, description="What to avoid.")
    image: ImageRef | None = Field(None, description="Reference image: https URL, data URI or base64.")
    image_reference: Literal["subject", "face"] | None = Field(None, description="How the reference image is used.")
    image_fidelity: float | None = Field(None, ge=0, le=1, description="How closely to follow the reference image.")
    human_fidelity: float | None = Field(None, ge=0, le=1, description="Face similarity (image_reference=subject).")
    resolution: Literal["1k", "2k"] = Field("1k", description="Output resolution.")
    n: int = Field(1, ge=1, le=9, description="Images to generate.")
    aspect_ratio: AspectRatio = Field("16:9", description="Width:height of the images.")


class _KlingVideo(BaseModel):
    model_config = _STRICT
    model_name: VideoModel = Field("kling-v1", description="Kling video model.")
    negative_prompt: str | None = Field(None, max_length=2500, description="What to avoid.")
    cfg_scale: float | None = Field(None, ge=0, le=1, description="Prompt adherence (not supported by v2.x models).")
    mode: Literal["std", "pro"] = Field("std", description="`std` (faster, cheaper) or `pro` (higher quality).")
    duration: Literal[5, 10] = Field(5, description="Video length in seconds.")
    sound: Literal["on", "off"] | None = Field(None, description="Generate audio (kling-v2-6 only).")


class KlingTextToVideo(_KlingVideo):
    """Kling text-to-video (`POST /v1/videos/text2video`)."""

    prompt: str = Field(min_length=1, max_length=2500, description="What happens in the video.")
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = Field("16:9", description="Width:height of the video.")


class KlingImageToVideo(_KlingVideo):
    """Kling image-to-video (`POST /v1/videos/image2video`): animate a first frame (and/or reach a last frame)."""

    image: ImageRef | None = Field(None, description="First frame: https URL, data URI or base64.")
    image_tail: ImageRef | None = Field(None, description="Last frame: https URL, data URI or base64.")
    prompt: str | None = Field(None, max_length=2500, description="What happens in the video.")

    @model_validator(mode="after")
    def _one_frame(self) -> KlingImageToVideo:
        if self.image is None and self.image_tail is None:
            raise ValueError("give `image` (first frame) or `image_tail` (last frame)")
        return self


_PATHS = {
    "text-to-image": ("/v1/images/generations", "images"),
    "text-to-video": ("/v1/videos/text2video", "videos"),
    "image-to-video": ("/v1/videos/image2video", "videos"),
}
_STATES = {
    "submitted": JobState.queued,
    "processing": JobState.running,
    "succeed": JobState.succeeded,
    "failed": JobState.failed,
}
_ERRORS: dict[int, type[GenPulseError]] = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004, 1100, 1103, 1304), ProviderAuthError),
    **dict.fromkeys((1101, 1102), InsufficientBalance),
    **dict.fromkeys((1200, 1201, 1202, 1203), ProviderInvalidInput),
    **dict.fromkeys((1300, 1301), ContentModerated),
    **dict.fromkeys((1302, 1303), ProviderRateLimited),
    **dict.fromkeys((5000, 5001), ProviderServerError),
    5002: ProviderTimeout,
}
_MODERATION_WORDS = ("risk", "sensitive", "moderation", "security", "policy")


def classify(status: int, body: Any) -> GenPulseError | None:
    if not isinstance(body, dict) or not isinstance(body.get("code"), int) or body["code"] == 0:
        return None
    code = body["code"]
    message = f"kling: {code} {body.get('message', '')} (request {body.get('request_id', '?')})"
    cls = _ERRORS.get(code)
    if cls is None:
        return None if status >= 400 else ProviderError(message, provider_code=str(code))
    return cls(message, provider_code=str(code))


class KlingProvider(CloudProvider):
    name = "kling"
    description = "Kling AI (可灵): images, text-to-video and image-to-video."
    default_base_url = "https://api-singapore.klingai.com"
    required_credentials = ("access_key", "secret_key")
    finds_by_ref = True
    accepts_callback = True

    def __init__(self, args: AppArgs, clock: Callable[[], float] = time.time) -> None:
        super().__init__(args)
        self._clock = clock
        self._jwt: JwtCache | None = None

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {
            "text-to-image": KlingTextToImage,
            "text-to-video": KlingTextToVideo,
            "image-to-video": KlingImageToVideo,
        }

    def _headers(self) -> dict[str, str]:
        if self._jwt is None:
            self._jwt = JwtCache(self.secret("access_key"), self.secret("secret_key"), clock=self._clock)
        return {"Authorization": f"Bearer {self._jwt.token()}"}

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
        reply = await send_json(
            client,
            self.name,
            method,
            self.base_url + path,
            classify=classify,
            headers=self._headers(),
            json=body,
            timeout=self.config.timeout_s,
        )
        if not isinstance(reply, dict) or not isinstance(reply.get("data"), dict):
            raise MalformedReply(f"kling: {method} {path}: no `data` object in {str(reply)[:200]}")
        return reply["data"]

    async def submit(
        self, client: httpx.AsyncClient, task_type: str, params: BaseModel, *, ref: str | None = None
    ) -> VendorJob:
        path, _ = _PATHS[task_type]
        body = _request_body(params)
        if ref is not None:
            body["external_task_id"] = ref
            if self.callbacks is not None:
                body["callback_url"] = self.callbacks.url(self.name, ref)
        data = await self._call(client, "POST", path, body)
        task_id = data.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise MalformedReply(f"kling: create reply has no task_id: {str(data)[:200]}")
        if "task_status" not in data:
            return VendorJob(str(task_id), JobState.queued)
        return self._job(str(task_id), data, task_type)

    async def find(self, client: httpx.AsyncClient, task_type: str, ref: str) -> VendorJob | None:
        path, _ = _PATHS[task_type]
        try:
            data = await self._call(client, "GET", f"{path}/{ref}")
        except ProviderInvalidInput as exc:
            if exc.provider_code == "1203":  # "requested resource does not exist": no job under our id
                return None
            raise
        task_id = data.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise MalformedReply(f"kling: query by external_task_id has no task_id: {str(data)[:200]}")
        return self._job(str(task_id), data, task_type)

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        path, _ = _PATHS[task_type]
        return self._job(job_id, await self._call(client, "GET", f"{path}/{job_id}"), task_type)

    def _job(self, job_id: str, data: dict[str, Any], task_type: str) -> VendorJob:
        raw = data.get("task_status")
        state = _STATES.get(raw) if isinstance(raw, str) else None
        if state is None:
            raise MalformedReply(f"kling: unknown task_status {raw!r} for task {job_id}", provider_code=str(raw))
        job = VendorJob(job_id, state, raw_status=raw)
        if state is JobState.failed:
            reason = str(data.get("task_status_msg") or "no reason given")
            cls = ContentModerated if any(w in reason.lower() for w in _MODERATION_WORDS) else ProviderServerError
            job.error = cls(f"kling: task {job_id} failed: {reason}", provider_code="failed")
        elif state is JobState.succeeded:
            job.outputs = _outputs(job_id, data, _PATHS[task_type][1])
        return job


def _request_body(params: BaseModel) -> dict[str, Any]:
    body = params.model_dump(exclude_none=True)
    for key in ("image", "image_tail"):
        if key in body:  # Kling takes a URL or raw base64 without the data: prefix
            value = split_image(body[key])
            body[key] = value.url or value.b64
    if "duration" in body:
        body["duration"] = str(body["duration"])
    return body


def _outputs(job_id: str, data: dict[str, Any], kind: str) -> list[VendorOutput]:
    result = data.get("task_result")
    items = result.get(kind) if isinstance(result, dict) else None
    if not isinstance(items, list) or not items:
        raise MalformedReply(f"kling: task {job_id} succeeded without task_result.{kind}")
    outputs = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url:
            raise MalformedReply(f"kling: task {job_id}: an output has no url")
        outputs.append(VendorOutput(kind=kind[:-1], url=url, extra={"id": item.get("id"), "index": item.get("index")}))
    return outputs
