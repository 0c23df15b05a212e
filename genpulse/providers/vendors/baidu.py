"""Provider ``baidu``: Baidu Qianfan v2 images (synchronous) and MuseSteamer video generation (tasks).

Auth: ``Authorization: Bearer <api_key>`` (a Qianfan API key ``bce-v3/ALTAK-…``). Images: ``POST
/v2/images/generations`` answers OpenAI-style ``data[].url`` (``b64_json`` accepted too) at once, so ``submit``
returns a finished job. Video: create ``POST /video/generations`` (``content[]`` of text and ``image_url``) →
``task_id``; query ``GET /video/generations?task_id=``, ``status`` ``pending | queued | running | succeeded |
failed``; output ``content.video_url`` (24 h). Cancel: ``DELETE /video/generations?task_id=``. Errors:
``{"error": {"code", "message", "type"}, "id"}`` with an HTTP status, mapped by type/code in ``classify``.
Config: ``api_key``, ``base_url`` (``https://qianfan.baidubce.com``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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

_STRICT = ConfigDict(extra="forbid")


def _check_size(value: str) -> str:
    try:
        w, h = (int(v) for v in value.split("x"))
    except ValueError:
        raise ValueError("size must look like 1024x1024") from None
    if not (512 <= w <= 2048 and 512 <= h <= 2048):
        raise ValueError("width and height must be within [512, 2048]")
    return f"{w}x{h}"


class BaiduTextToImage(BaseModel):
    """Qianfan v2 image generation (`POST /v2/images/generations`)."""

    model_config = _STRICT
    model: Literal["irag-1.0", "flux.1-schnell"] = Field("irag-1.0", description="Image model.")
    prompt: str = Field(min_length=1, max_length=1000, description="What to draw.")
    n: int = Field(1, ge=1, le=4, description="Images to generate.")
    size: Annotated[str, AfterValidator(_check_size)] = Field(
        "1024x1024", description="WIDTHxHEIGHT, each within [512, 2048]."
    )
    refer_image: ImageRef | None = Field(None, description="Reference image (irag-1.0): https URL or base64.")


class BaiduImageToVideo(BaseModel):
    """MuseSteamer image-to-video (`POST /video/generations`): animate a first frame."""

    model_config = _STRICT
    model: str = Field(
        "musesteamer-air-i2v",
        pattern=r"^musesteamer-[a-z0-9.\-]+-i2v$",
        description="A MuseSteamer image-to-video model, e.g. musesteamer-air-i2v.",
    )
    prompt: str | None = Field(None, max_length=2000, description="What happens in the video.")
    image: ImageRef = Field(description="First frame: https URL, data URI or base64.")
    duration: Literal[5, 10] | None = Field(None, description="Seconds; the model's default when unset.")
    watermark: bool = Field(False, description="Add a watermark.")


_STATES = {
    "pending": JobState.queued,
    "queued": JobState.queued,
    "running": JobState.running,
    "succeeded": JobState.succeeded,
    "failed": JobState.failed,
}
_RATE = ("rpm_rate_limit_exceeded", "tpm_rate_limit_exceeded", "rate_limit_exceeded", "qps_rate_limit_exceeded")
_BALANCE_WORDS = ("arrear", "balance", "overdue", "quota_exhausted", "insufficient")


def error_for(status: int, err: dict[str, Any]) -> GenPulseError | None:
    code, kind = str(err.get("code") or ""), str(err.get("type") or "")
    message = f"baidu: HTTP {status} {code or kind}: {err.get('message', '')}"
    low = f"{code} {kind}".lower()
    if kind == "unsafe_request" or "unsafe" in low or "sensitive" in low:
        cls: type[GenPulseError] | None = ContentModerated
    elif any(w in low for w in _BALANCE_WORDS):
        cls = InsufficientBalance
    elif status in (401, 403) or code in ("access_denied", "invalid_iam_token", "no_permission"):
        cls = ProviderAuthError
    elif status == 429 or code in _RATE:
        cls = ProviderRateLimited
    elif status >= 500 or code == "internal_error":
        cls = ProviderServerError
    elif status == 400 or kind == "invalid_request_error":
        cls = ProviderInvalidInput
    else:
        cls = None
    return cls(message, provider_code=code or kind or str(status)) if cls else None


def classify(status: int, body: Any) -> GenPulseError | None:
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or (status < 400 and "status" in body):
        return None  # a task record carries its own failure in `error`
    return error_for(status, err) or (ProviderError(f"baidu: {err}", provider_code=str(err.get("code"))))


class BaiduProvider(CloudProvider):
    name = "baidu"
    description = "Baidu Qianfan: images (irag, flux) and MuseSteamer image-to-video."
    default_base_url = "https://qianfan.baidubce.com"

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {"text-to-image": BaiduTextToImage, "image-to-video": BaiduImageToVideo}

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        reply = await send_json(
            client,
            self.name,
            method,
            self.base_url + path,
            classify=classify,
            headers={"Authorization": f"Bearer {self.secret('api_key')}"},
            timeout=self.config.timeout_s,
            **kwargs,
        )
        if not isinstance(reply, dict):
            raise MalformedReply(f"baidu: {method} {path}: reply is not an object: {reply!r:.200}")
        return reply

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        body = params.model_dump(exclude_none=True)
        if task_type == "text-to-image":
            if "refer_image" in body:
                body["refer_image"] = split_image(body["refer_image"]).url_or_data_uri
            reply = await self._call(client, "POST", "/v2/images/generations", json=body)
            job_id = str(reply.get("id") or f"bd-img-{uuid.uuid4().hex[:16]}")
            return VendorJob(job_id, JobState.succeeded, 100.0, _images(reply))
        content: list[dict[str, Any]] = [{"type": "text", "text": body.pop("prompt")}] if "prompt" in body else []
        content.append({"type": "image_url", "image_url": {"url": split_image(body.pop("image")).url_or_data_uri}})
        reply = await self._call(client, "POST", "/video/generations", json={**body, "content": content})
        task_id = reply.get("task_id") or reply.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise MalformedReply(f"baidu: create reply has no task_id: {reply!r:.200}")
        return VendorJob(task_id, JobState.queued, raw_status=reply.get("status"))

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        if task_type == "text-to-image":
            raise ProviderError(
                f"baidu: {job_id} was a synchronous call whose images are gone; not re-run, to avoid paying twice"
            )
        reply = await self._call(client, "GET", "/video/generations", params={"task_id": job_id})
        raw = reply.get("status")
        state = _STATES.get(raw) if isinstance(raw, str) else None
        if state is None:
            raise MalformedReply(f"baidu: unknown status {raw!r} for task {job_id}", provider_code=str(raw))
        job = VendorJob(job_id, state, raw_status=raw)
        if state is JobState.failed:
            err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            job.error = error_for(200, err) if err else None
            job.error = job.error or ProviderServerError(
                f"baidu: task {job_id} failed: {err.get('message') or 'no reason given'}", provider_code="failed"
            )
        elif state is JobState.succeeded:
            content = reply.get("content")
            url = content.get("video_url") if isinstance(content, dict) else None
            if not isinstance(url, str) or not url:
                raise MalformedReply(f"baidu: task {job_id} succeeded without content.video_url")
            job.outputs = [VendorOutput("video", url=url)]
        return job

    async def cancel(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> bool:
        if task_type == "text-to-image":
            return False
        try:
            await self._call(client, "DELETE", "/video/generations", params={"task_id": job_id})
        except ProviderInvalidInput:
            return False
        return True


def _images(reply: dict[str, Any]) -> list[VendorOutput]:
    items = reply.get("data")
    if not isinstance(items, list) or not items:
        raise MalformedReply(f"baidu: image reply has no `data` list: {reply!r:.200}")
    outputs = []
    for item in items:
        item = item if isinstance(item, dict) else {}
        if isinstance(item.get("url"), str) and item["url"]:
            outputs.append(VendorOutput("image", url=item["url"]))
        elif isinstance(item.get("b64_json"), str) and item["b64_json"]:
            try:
                outputs.append(VendorOutput("image", data=base64.b64decode(item["b64_json"], validate=True)))
            except (binascii.Error, ValueError):
                raise MalformedReply("baidu: b64_json is not valid base64") from None
        else:
            raise MalformedReply("baidu: an image has neither url nor b64_json")
    return outputs
