"""Provider ``minimax``: MiniMax (Hailuo) video generation (v1 tasks) and image generation (synchronous).

Auth: ``Authorization: Bearer <api_key>``. Every reply carries ``base_resp {status_code, status_msg}``, usually
with HTTP 200: ``status_code != 0`` is an error, mapped by ``_ERRORS`` (``classify``). Video: create
``POST /v1/video_generation`` → ``task_id``; query ``GET /v1/query/video_generation?task_id=``, ``status``
``Preparing | Queueing | Processing | Success | Fail``; on ``Success`` the ``file_id`` is resolved with
``GET /v1/files/retrieve?file_id=`` into ``file.download_url`` (time-limited; the worker downloads it at once).
Images: ``POST /v1/image_generation`` answers ``data.image_urls[]`` (or ``data.image_base64[]``); images dropped
by moderation only show in ``metadata.failed_count``. MiniMax has no cancel API.
Config: ``api_key``, ``base_url`` (``https://api.minimax.io``; mainland ``https://api.minimaxi.com``),
``group_id`` (sent as ``GroupId`` to files/retrieve, for older keys only).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

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
from genpulse.providers.http import Classify, send_json

_STRICT = ConfigDict(extra="forbid")
T2VModel = Literal["MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02", "T2V-01-Director", "T2V-01"]
I2VModel = Literal[
    "MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02", "I2V-01-Director", "I2V-01", "I2V-01-live"
]


class _MiniMaxVideo(BaseModel):
    model_config = _STRICT
    prompt: str = Field(
        min_length=1, max_length=2000, description="What happens; camera moves in brackets, e.g. `[Push in]`."
    )
    duration: Literal[6, 10] = Field(6, description="Seconds (10 s only at 768P on Hailuo-02 / 2.3).")
    resolution: Literal["512P", "720P", "768P", "1080P"] | None = Field(
        None, description="Output resolution; the model's default when unset."
    )
    prompt_optimizer: bool = Field(True, description="Let MiniMax rewrite the prompt for better results.")

    @model_validator(mode="after")
    def _ten_seconds(self) -> _MiniMaxVideo:
        if self.duration == 10 and self.resolution == "1080P":
            raise ValueError("duration: 10 s videos are not available at 1080P")
        return self


class MiniMaxTextToVideo(_MiniMaxVideo):
    """MiniMax text-to-video (`POST /v1/video_generation`)."""

    model: T2VModel = Field("MiniMax-Hailuo-02", description="Video model.")


class MiniMaxImageToVideo(_MiniMaxVideo):
    """MiniMax image-to-video: animate a first frame (`first_frame_image`)."""

    model: I2VModel = Field("MiniMax-Hailuo-02", description="Video model.")
    prompt: str | None = Field(None, max_length=2000, description="What happens (optional with a first frame).")
    first_frame_image: ImageRef = Field(description="First frame: https URL, data URI or base64 (<20 MB).")


class MiniMaxTextToImage(BaseModel):
    """MiniMax image generation (`POST /v1/image_generation`), synchronous."""

    model_config = _STRICT
    model: Literal["image-01", "image-01-live"] = Field("image-01", description="Image model.")
    prompt: str = Field(min_length=1, max_length=1500, description="What to draw.")
    aspect_ratio: Literal["1:1", "16:9", "4:3", "3:2", "2:3", "3:4", "9:16", "21:9"] = Field(
        "1:1", description="Width:height of the images."
    )
    n: int = Field(1, ge=1, le=9, description="Images to generate.")
    seed: int | None = Field(None, ge=0, lt=2**31, description="Fixed seed for reproducible images.")
    prompt_optimizer: bool = Field(False, description="Let MiniMax rewrite the prompt.")
    subject_reference: ImageRef | None = Field(None, description="A character reference image (URL or base64).")


_ERRORS: dict[int, type[GenPulseError]] = {
    1000: ProviderServerError,
    1001: ProviderTimeout,
    1002: ProviderRateLimited,
    1004: ProviderAuthError,
    1008: InsufficientBalance,
    1024: ProviderServerError,
    1026: ContentModerated,
    1027: ContentModerated,
    1033: ProviderServerError,
    1039: ProviderRateLimited,
    2013: ProviderInvalidInput,
    2038: ProviderAuthError,
    2049: ProviderAuthError,
}
_STATES = {
    "Preparing": JobState.queued,
    "Queueing": JobState.queued,
    "Processing": JobState.running,
    "Success": JobState.succeeded,
    "Fail": JobState.failed,
}


def _base_resp(body: Any) -> tuple[int, str] | None:
    resp = body.get("base_resp") if isinstance(body, dict) else None
    if not isinstance(resp, dict) or not isinstance(resp.get("status_code"), int):
        return None
    return resp["status_code"], str(resp.get("status_msg", ""))


def error_for(code: int, message: str) -> GenPulseError:
    cls = _ERRORS.get(code, ProviderError)
    return cls(f"minimax: {code} {message}", provider_code=str(code))


def classify(status: int, body: Any) -> GenPulseError | None:
    resp = _base_resp(body)
    if resp is None or resp[0] == 0:
        return None if status >= 400 or resp is not None else MalformedReply(f"minimax: no base_resp: {body!r:.200}")
    return error_for(*resp)


def classify_query(status: int, body: Any) -> GenPulseError | None:
    """A ``Fail`` task carries its reason in ``base_resp``: that is a failed job, not a failed query."""
    if status < 400 and isinstance(body, dict) and body.get("status") == "Fail":
        return None
    return classify(status, body)


class MiniMaxProvider(CloudProvider):
    name = "minimax"
    description = "MiniMax (Hailuo): text-to-video, image-to-video and images."
    default_base_url = "https://api.minimax.io"

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {
            "text-to-video": MiniMaxTextToVideo,
            "image-to-video": MiniMaxImageToVideo,
            "text-to-image": MiniMaxTextToImage,
        }

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, classify: Classify = classify, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.secret('api_key')}"}
        url = self.base_url + path
        return await send_json(
            client, self.name, method, url, classify=classify, headers=headers, timeout=self.config.timeout_s, **kwargs
        )

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        body = params.model_dump(exclude_none=True)
        if task_type == "text-to-image":
            return await self._image(client, body)
        if "first_frame_image" in body:
            body["first_frame_image"] = split_image(body["first_frame_image"]).url_or_data_uri
        reply = await self._call(client, "POST", "/v1/video_generation", json=body)
        task_id = reply.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise MalformedReply(f"minimax: create reply has no task_id: {reply!r:.200}")
        return VendorJob(str(task_id), JobState.queued, raw_status="Queueing")

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        if task_type == "text-to-image":
            raise ProviderError(
                f"minimax: {job_id} was a synchronous call whose images are gone; not re-run, to avoid paying twice"
            )
        reply = await self._call(
            client, "GET", "/v1/query/video_generation", classify_query, params={"task_id": job_id}
        )
        raw = reply.get("status")
        state = _STATES.get(raw) if isinstance(raw, str) else None
        if state is None:
            raise MalformedReply(f"minimax: unknown status {raw!r} for task {job_id}", provider_code=str(raw))
        job = VendorJob(job_id, state, raw_status=raw)
        if state is JobState.failed:
            code, message = _base_resp(reply) or (0, "")
            job.error = (
                error_for(code, message)
                if code
                else ProviderServerError(f"minimax: task {job_id} failed", provider_code="Fail")
            )
        elif state is JobState.succeeded:
            file_id = reply.get("file_id")
            if not isinstance(file_id, str | int) or not str(file_id):
                raise MalformedReply(f"minimax: task {job_id} succeeded without file_id")
            job.outputs = [await self._retrieve(client, str(file_id))]
        return job

    async def _retrieve(self, client: httpx.AsyncClient, file_id: str) -> VendorOutput:
        query = {"file_id": file_id, **({"GroupId": self.config.group_id} if self.config.group_id else {})}
        reply = await self._call(client, "GET", "/v1/files/retrieve", params=query)
        file = reply.get("file")
        url = file.get("download_url") if isinstance(file, dict) else None
        if not isinstance(url, str) or not url:
            raise MalformedReply(f"minimax: file {file_id} has no download_url")
        return VendorOutput("video", url=url, extra={"file_id": file_id, "filename": file.get("filename")})

    async def _image(self, client: httpx.AsyncClient, body: dict[str, Any]) -> VendorJob:
        ref = body.pop("subject_reference", None)
        if ref is not None:
            body["subject_reference"] = [{"type": "character", "image_file": split_image(ref).url_or_data_uri}]
        reply = await self._call(client, "POST", "/v1/image_generation", json={**body, "response_format": "url"})
        data = reply.get("data")
        if not isinstance(data, dict):
            raise MalformedReply(f"minimax: image reply has no `data`: {reply!r:.200}")
        outputs = [VendorOutput("image", url=u) for u in data.get("image_urls") or [] if isinstance(u, str) and u]
        for b64 in data.get("image_base64") or []:
            try:
                outputs.append(VendorOutput("image", data=base64.b64decode(b64, validate=True)))
            except (binascii.Error, ValueError, TypeError):
                raise MalformedReply("minimax: image_base64 is not valid base64") from None
        if not outputs:
            failed = (reply.get("metadata") or {}).get("failed_count")
            if str(failed or "0") != "0":
                raise ContentModerated(f"minimax: all {failed} images withheld by moderation", provider_code="1027")
            raise MalformedReply("minimax: image reply without images")
        job_id = str(reply.get("id") or f"mm-img-{uuid.uuid4().hex[:16]}")
        return VendorJob(job_id, JobState.succeeded, 100.0, outputs)
