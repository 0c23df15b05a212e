"""Provider ``tencent``: Hunyuan image (``hunyuan`` or ``aiart`` job APIs) and Hunyuan video (``vclm``).

Tencent Cloud API 3.0: every call is ``POST /`` with the action's parameters as JSON and TC3-HMAC-SHA256
signed headers (``X-TC-Action``/``-Version``/``-Timestamp``/``-Region``). Replies are ``{"Response": {...}}``;
errors come with HTTP 200 as ``Response.Error.Code``, mapped by ``classify``. Jobs:

- text-to-image, ``api=hunyuan``: ``SubmitHunyuanImageJob`` / ``QueryHunyuanImageJob`` (2023-09-01);
  ``api=aiart``: ``SubmitTextToImageJob`` / ``QueryTextToImageJob`` (2022-12-29, Hunyuan image 3.0).
  ``JobStatusCode`` ``1`` queued, ``2`` running, ``4`` failed (``JobErrorCode``), ``5`` done; ``ResultImage[]``.
- text-to-video / image-to-video: ``SubmitHunyuanToVideoJob`` / ``DescribeHunyuanToVideoJob`` (vclm 2024-05-23);
  ``Status`` ``WAIT | RUN | FAIL | DONE``; ``ResultVideoUrl``.

Job ids: the vendor's ``JobId``; aiart jobs are prefixed ``aiart:`` so a poll knows which API to ask.
No cancel API. Config: ``access_key`` (SecretId), ``secret_key`` (SecretKey), ``base_url`` (may contain
``{service}``; default ``https://{service}.tencentcloudapi.com``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

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
)
from genpulse.media.inputs import ImageRef, split_image
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput
from genpulse.providers.http import send_json
from genpulse.providers.request_signing import tc3_sign

_STRICT = ConfigDict(extra="forbid")
REGION = "ap-guangzhou"
VERSIONS = {"hunyuan": "2023-09-01", "aiart": "2022-12-29", "vclm": "2024-05-23"}
Resolution = Literal["768:768", "768:1024", "1024:768", "1024:1024", "720:1280", "1280:720", "768:1280", "1280:768"]
_HUNYUAN_ONLY = ("negative_prompt", "style", "num", "clarity", "content_image")


class TencentTextToImage(BaseModel):
    """Hunyuan text-to-image, as an asynchronous job."""

    model_config = _STRICT
    api: Literal["hunyuan", "aiart"] = Field(
        "hunyuan",
        description="`hunyuan`: SubmitHunyuanImageJob (hunyuan 2023-09-01); `aiart`: SubmitTextToImageJob "
        "(Hunyuan image 3.0, aiart 2022-12-29).",
    )
    prompt: str = Field(min_length=1, max_length=1024, description="What to draw (Chinese recommended).")
    negative_prompt: str | None = Field(None, max_length=1024, description="What to avoid (hunyuan only).")
    style: str | None = Field(None, max_length=32, description="Style id from Tencent's style list (hunyuan only).")
    resolution: Resolution = Field("1024:1024", description="Width:height in pixels.")
    num: int = Field(1, ge=1, le=4, description="Images to generate (hunyuan only).")
    clarity: Literal["x2", "x4"] | None = Field(None, description="Super-resolution factor (hunyuan only).")
    content_image: ImageRef | None = Field(None, description="Reference image (hunyuan only).")
    revise: bool = Field(True, description="Let the vendor expand the prompt.")
    seed: int | None = Field(None, ge=1, le=4294967295, description="Fixed seed (ignored while `revise` is on).")
    logo_add: bool = Field(True, description="Add the 'AI generated' mark.")

    @model_validator(mode="after")
    def _api_fields(self) -> TencentTextToImage:
        if self.api == "aiart":
            bad = [f for f in _HUNYUAN_ONLY if getattr(self, f) not in (None, 1)]
            if bad:
                raise ValueError(f"not supported with api=aiart: {', '.join(bad)}")
        return self


class TencentTextToVideo(BaseModel):
    """Hunyuan text-to-video (vclm SubmitHunyuanToVideoJob)."""

    model_config = _STRICT
    prompt: str = Field(min_length=1, max_length=200, description="What happens in the video (Chinese).")
    resolution: Literal["720p"] = Field("720p", description="Video resolution (only 720p today).")
    logo_add: bool = Field(True, description="Add the 'AI generated' mark.")


class TencentImageToVideo(BaseModel):
    """Hunyuan image-to-video (vclm SubmitHunyuanToVideoJob with an input image)."""

    model_config = _STRICT
    image: ImageRef = Field(description="First frame: https URL (<=10 MB), data URI or base64 (<=8 MB).")
    prompt: str | None = Field(None, max_length=200, description="What happens in the video (Chinese).")
    resolution: Literal["720p"] = Field("720p", description="Video resolution (only 720p today).")
    logo_add: bool = Field(True, description="Add the 'AI generated' mark.")


_EXACT: dict[str, type[GenPulseError]] = {
    "FailedOperation.JobNotExist": ProviderInvalidInput,
    "FailedOperation.ImageDownloadError": ProviderInvalidInput,
    "FailedOperation.DownloadError": ProviderInvalidInput,
    "FailedOperation.GenerateImageFailed": ContentModerated,
    "FailedOperation.ModerationFailed": ContentModerated,
    "FailedOperation.ResourcePackExhausted": InsufficientBalance,
    "FailedOperation.FreeResourcePackExhausted": InsufficientBalance,
    "FailedOperation.ServiceNotActivated": ProviderAuthError,
    "FailedOperation.EngineServerLimitExceeded": ProviderRateLimited,
    "ResourceUnavailable.NotExist": ProviderAuthError,
    "ResourceUnavailable.StopUsing": ProviderAuthError,
    "UnsupportedRegion": ProviderInvalidInput,
    "InvalidAction": ProviderInvalidInput,
    "NoSuchVersion": ProviderInvalidInput,
}
_PREFIXES: tuple[tuple[str, type[GenPulseError]], ...] = (
    ("AuthFailure", ProviderAuthError),
    ("UnauthorizedOperation", ProviderAuthError),
    ("OperationDenied", ContentModerated),
    ("ResourceUnavailable", InsufficientBalance),  # LowBalance, InArrears
    ("ResourceInsufficient", InsufficientBalance),  # ChargeResourceExhaust
    ("RequestLimitExceeded", ProviderRateLimited),  # frequency, and .JobNumExceed (concurrency)
    ("LimitExceeded", ProviderRateLimited),
    ("InvalidParameter", ProviderInvalidInput),
    ("InvalidParameterValue", ProviderInvalidInput),
    ("MissingParameter", ProviderInvalidInput),
    ("UnknownParameter", ProviderInvalidInput),
    ("InternalError", ProviderServerError),
    ("ServiceUnavailable", ProviderServerError),
    ("FailedOperation", ProviderServerError),
)


def error_for(code: str, message: str) -> GenPulseError:
    cls = _EXACT.get(code) or next((c for p, c in _PREFIXES if code == p or code.startswith(p + ".")), None)
    return (cls or ProviderError)(f"tencent: {code}: {message}", provider_code=code)


def classify(status: int, body: Any) -> GenPulseError | None:
    error = body.get("Response", {}).get("Error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error_for(str(error.get("Code", "")), str(error.get("Message", "")))
    return None


_IMAGE_STATES = {"1": JobState.queued, "2": JobState.running, "4": JobState.failed, "5": JobState.succeeded}
_VIDEO_STATES = {"WAIT": JobState.queued, "RUN": JobState.running, "FAIL": JobState.failed, "DONE": JobState.succeeded}


class TencentProvider(CloudProvider):
    name = "tencent"
    description = "Tencent Cloud Hunyuan: image (hunyuan, aiart) and video (vclm) jobs."
    default_base_url = "https://{service}.tencentcloudapi.com"
    required_credentials = ("access_key", "secret_key")

    def __init__(self, args: AppArgs, clock: Callable[[], float] = time.time) -> None:
        super().__init__(args)
        self._clock = clock

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {
            "text-to-image": TencentTextToImage,
            "text-to-video": TencentTextToVideo,
            "image-to-video": TencentImageToVideo,
        }

    async def call(self, client: httpx.AsyncClient, service: str, action: str, params: dict[str, Any]) -> dict:
        url = self.base_url.replace("{service}", service)
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        headers = tc3_sign(
            secret_id=self.secret("access_key"),
            secret_key=self.secret("secret_key"),
            service=service,
            host=urlsplit(url).netloc,
            action=action,
            version=VERSIONS[service],
            region=REGION,
            body=body,
            now=self._clock(),
        )
        reply = await send_json(
            client,
            self.name,
            "POST",
            url + "/",
            classify=classify,
            headers=headers,
            content=body,
            timeout=self.config.timeout_s,
        )
        response = reply.get("Response") if isinstance(reply, dict) else None
        if not isinstance(response, dict):
            raise MalformedReply(f"tencent: {action}: no `Response` object in {str(reply)[:200]}")
        return response

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        if isinstance(params, TencentTextToImage):
            if params.api == "aiart":
                reply = await self.call(client, "aiart", "SubmitTextToImageJob", _aiart_body(params))
                return VendorJob("aiart:" + _job_id(reply), JobState.queued)
            reply = await self.call(client, "hunyuan", "SubmitHunyuanImageJob", _hunyuan_body(params))
            return VendorJob(_job_id(reply), JobState.queued)
        assert isinstance(params, TencentTextToVideo | TencentImageToVideo)
        reply = await self.call(client, "vclm", "SubmitHunyuanToVideoJob", _video_body(params))
        return VendorJob(_job_id(reply), JobState.queued)

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        if task_type != "text-to-image":
            reply = await self.call(client, "vclm", "DescribeHunyuanToVideoJob", {"JobId": job_id})
            return _job(job_id, reply, reply.get("Status"), _VIDEO_STATES, "ErrorCode", "ErrorMessage")
        if job_id.startswith("aiart:"):
            reply = await self.call(client, "aiart", "QueryTextToImageJob", {"JobId": job_id.removeprefix("aiart:")})
        else:
            reply = await self.call(client, "hunyuan", "QueryHunyuanImageJob", {"JobId": job_id})
        status = reply.get("JobStatusCode")
        status = str(status) if isinstance(status, str | int) else None
        return _job(job_id, reply, status, _IMAGE_STATES, "JobErrorCode", "JobErrorMsg")

    def poll_delay(self, task_type: str, elapsed_s: float, polls: int) -> float:
        # images take seconds and the query API allows 20 req/s; a configured fixed interval wins
        if task_type == "text-to-image" and self.config.poll_interval_s is None:
            return 1.0 if elapsed_s < 30 else 3.0
        return super().poll_delay(task_type, elapsed_s, polls)


def _job_id(reply: dict[str, Any]) -> str:
    job_id = reply.get("JobId")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedReply(f"tencent: submit reply has no JobId: {str(reply)[:200]}")
    return job_id


def _job(job_id: str, reply: dict, raw: Any, states: dict[str, JobState], code_key: str, msg_key: str) -> VendorJob:
    state = states.get(raw) if isinstance(raw, str) else None
    if state is None:
        raise MalformedReply(f"tencent: unknown job status {raw!r} for job {job_id}", provider_code=str(raw))
    job = VendorJob(job_id, state, raw_status=raw)
    if state is JobState.failed:
        code = str(reply.get(code_key) or "FailedOperation")
        job.error = error_for(code, str(reply.get(msg_key) or "job failed"))
    elif state is JobState.succeeded:
        job.outputs = _outputs(job_id, reply)
    return job


def _outputs(job_id: str, reply: dict[str, Any]) -> list[VendorOutput]:
    if "ResultVideoUrl" in reply:
        url = reply["ResultVideoUrl"]
        if not isinstance(url, str) or not url:
            raise MalformedReply(f"tencent: job {job_id} is DONE without ResultVideoUrl")
        return [VendorOutput(kind="video", url=url)]
    images = reply.get("ResultImage")
    if not isinstance(images, list) or not images or not all(isinstance(u, str) and u for u in images):
        raise MalformedReply(f"tencent: job {job_id} is done without ResultImage URLs")
    return [VendorOutput(kind="image", url=u) for u in images]


def _common(params: BaseModel) -> dict[str, Any]:
    body: dict[str, Any] = {"LogoAdd": 1 if getattr(params, "logo_add", True) else 0}
    if getattr(params, "prompt", None):
        body["Prompt"] = params.prompt  # type: ignore[attr-defined]
    return body


def _hunyuan_body(p: TencentTextToImage) -> dict[str, Any]:
    body = _common(p) | {"Resolution": p.resolution, "Num": p.num, "Revise": 1 if p.revise else 0}
    optional = {"NegativePrompt": p.negative_prompt, "Style": p.style, "Clarity": p.clarity, "Seed": p.seed}
    body |= {k: v for k, v in optional.items() if v is not None}
    if p.content_image:
        image = split_image(p.content_image)
        body["ContentImage"] = {"Url": image.url} if image.url else {"ImageBase64": image.b64}
    return body


def _aiart_body(p: TencentTextToImage) -> dict[str, Any]:
    body = _common(p) | {"Resolution": p.resolution, "Revise": 1 if p.revise else 0}
    if p.seed is not None:
        body["Seed"] = p.seed
    return body


def _video_body(p: TencentTextToVideo | TencentImageToVideo) -> dict[str, Any]:
    body = _common(p) | {"Resolution": p.resolution}
    if isinstance(p, TencentImageToVideo):
        image = split_image(p.image)
        body["Image"] = {"Url": image.url} if image.url else {"Base64": image.b64}
    return body
