"""Provider ``dashscope``: Alibaba Cloud Model Studio (DashScope) Wan text-to-image and video synthesis.

Auth: ``Authorization: Bearer <api_key>``; create calls add ``X-DashScope-Async: enable`` (without it the API
refuses with ``AccessDenied``). Create ``POST /api/v1/services/aigc/text2image/image-synthesis`` or
``…/video-generation/video-synthesis`` → ``output.task_id``; query ``GET /api/v1/tasks/{task_id}``,
``output.task_status`` ``PENDING | RUNNING | SUCCEEDED | FAILED | CANCELED | UNKNOWN`` (``SUSPENDED`` from old docs
is read as queued). Outputs: ``output.results[].url`` (images; an entry with ``code`` instead of ``url`` is an
image withheld by moderation) or ``output.video_url``; URLs live 24 h. Errors: ``{"code", "message",
"request_id"}`` with an HTTP status, mapped by ``code``. Cancel: ``POST /api/v1/tasks/{id}/cancel`` (PENDING only).
Config: ``api_key``, ``base_url`` (Beijing by default; ``https://dashscope-intl.aliyuncs.com`` for Singapore).
"""

from __future__ import annotations

import re
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
    ProviderTimeout,
)
from genpulse.media.inputs import ImageRef, split_image
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput
from genpulse.providers.http import send_json

_STRICT = ConfigDict(extra="forbid")
_SIZE = re.compile(r"^(\d{3,4})[*x](\d{3,4})$")


def _size(low: int, high: int):
    def check(value: str) -> str:
        match = _SIZE.match(value)
        if not match:
            raise ValueError("size must look like 1024*1024 (width*height)")
        w, h = int(match.group(1)), int(match.group(2))
        if not (low <= w <= high and low <= h <= high):
            raise ValueError(f"width and height must be within [{low}, {high}]")
        return f"{w}*{h}"

    return AfterValidator(check)


ImageSize = Annotated[str, _size(512, 2048)]
VideoSize = Annotated[str, _size(480, 1920)]


class _Wan(BaseModel):
    model_config = _STRICT
    negative_prompt: str | None = Field(None, max_length=500, description="What to avoid.")
    seed: int | None = Field(None, ge=0, le=2147483647, description="Fixed seed for reproducible results.")
    prompt_extend: bool = Field(True, description="Let the model rewrite the prompt (better results, slower).")
    watermark: bool = Field(False, description="Add the 'AI generated' watermark.")


class DashScopeTextToImage(_Wan):
    """Wan text-to-image (`…/text2image/image-synthesis`)."""

    model: Literal[
        "wan2.5-t2i-preview", "wan2.2-t2i-plus", "wan2.2-t2i-flash", "wanx2.1-t2i-plus", "wanx2.1-t2i-turbo",
        "wanx2.0-t2i-turbo", "wanx-v1",
    ] = Field("wanx2.1-t2i-turbo", description="Wan image model.")  # fmt: skip
    prompt: str = Field(min_length=1, max_length=800, description="What to draw.")
    size: ImageSize = Field("1024*1024", description="width*height, each within [512, 2048] (wanx-v1: fixed sizes).")
    n: int = Field(1, ge=1, le=4, description="Images to generate.")


class DashScopeTextToVideo(_Wan):
    """Wan text-to-video (`…/video-generation/video-synthesis`)."""

    model: Literal["wan2.5-t2v-preview", "wan2.2-t2v-plus", "wanx2.1-t2v-plus", "wanx2.1-t2v-turbo"] = Field(
        "wanx2.1-t2v-turbo", description="Wan text-to-video model."
    )
    prompt: str = Field(min_length=1, max_length=800, description="What happens in the video.")
    size: VideoSize = Field("1280*720", description="width*height, e.g. 1280*720, 1920*1080, 832*480.")
    duration: Literal[5, 10] = Field(5, description="Seconds (10 only on wan2.5).")


class DashScopeImageToVideo(_Wan):
    """Wan image-to-video: animate a first frame (`input.img_url`)."""

    model: Literal[
        "wan2.5-i2v-preview", "wan2.2-i2v-plus", "wan2.2-i2v-flash", "wanx2.1-i2v-plus", "wanx2.1-i2v-turbo"
    ] = Field("wanx2.1-i2v-turbo", description="Wan image-to-video model.")
    prompt: str | None = Field(None, max_length=800, description="What happens in the video.")
    img_url: ImageRef = Field(description="First frame: https URL, data URI or base64.")
    resolution: Literal["480P", "720P", "1080P"] = Field("720P", description="Output resolution.")
    duration: Literal[5, 10] = Field(5, description="Seconds (10 only on wan2.5).")


_PATHS = {
    "text-to-image": "/api/v1/services/aigc/text2image/image-synthesis",
    "text-to-video": "/api/v1/services/aigc/video-generation/video-synthesis",
    "image-to-video": "/api/v1/services/aigc/video-generation/video-synthesis",
}
_STATES = {
    "PENDING": JobState.queued,
    "SUSPENDED": JobState.queued,
    "RUNNING": JobState.running,
    "SUCCEEDED": JobState.succeeded,
    "FAILED": JobState.failed,
    "CANCELED": JobState.canceled,
    "UNKNOWN": JobState.failed,
}
_ERRORS: dict[str, type[GenPulseError]] = {
    "InvalidApiKey": ProviderAuthError,
    "AccessDenied": ProviderAuthError,
    "Arrearage": InsufficientBalance,
    "Throttling.AllocationQuota": InsufficientBalance,
    "DataInspectionFailed": ContentModerated,
    "IPInfringementSuspect": ContentModerated,
    "InvalidParameter": ProviderInvalidInput,
    "ModelNotFound": ProviderInvalidInput,
    "Throttling": ProviderRateLimited,
    "Throttling.RateQuota": ProviderRateLimited,
    "InternalError": ProviderServerError,
    "RequestTimeOut": ProviderTimeout,
}


def error_for(code: str, message: str, status: int | None = None) -> GenPulseError | None:
    cls = _ERRORS.get(code) or _ERRORS.get(code.split(".")[0])
    if cls is None and (code.startswith("InternalError") or (status or 0) >= 500):
        cls = ProviderServerError
    if cls is None:
        return None
    return cls(f"dashscope: {code}: {message}", provider_code=code)


def classify(status: int, body: Any) -> GenPulseError | None:
    if status < 400 or not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return None
    return error_for(body["code"], str(body.get("message", "")), status)


class DashScopeProvider(CloudProvider):
    name = "dashscope"
    description = "Alibaba Cloud DashScope (Model Studio): Wan text-to-image, text-to-video and image-to-video."
    default_base_url = "https://dashscope.aliyuncs.com"

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {
            "text-to-image": DashScopeTextToImage,
            "text-to-video": DashScopeTextToVideo,
            "image-to-video": DashScopeImageToVideo,
        }

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.secret('api_key')}", **kwargs.pop("headers", {})}
        return await send_json(
            client,
            self.name,
            method,
            self.base_url + path,
            classify=classify,
            headers=headers,
            timeout=self.config.timeout_s,
            **kwargs,
        )

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        reply = await self._call(
            client, "POST", _PATHS[task_type], json=_request_body(params), headers={"X-DashScope-Async": "enable"}
        )
        output = reply.get("output") if isinstance(reply, dict) else None
        task_id = output.get("task_id") if isinstance(output, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise MalformedReply(f"dashscope: create reply has no output.task_id: {reply!r:.200}")
        return VendorJob(task_id, JobState.queued, raw_status=output.get("task_status"))

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        reply = await self._call(client, "GET", f"/api/v1/tasks/{job_id}")
        output = reply.get("output") if isinstance(reply, dict) else None
        raw = output.get("task_status") if isinstance(output, dict) else None
        state = _STATES.get(raw) if isinstance(raw, str) else None
        if state is None:
            raise MalformedReply(f"dashscope: unknown task_status {raw!r} for task {job_id}", provider_code=str(raw))
        job = VendorJob(job_id, state, raw_status=raw)
        if raw == "UNKNOWN":
            job.error = ProviderError(f"dashscope: task {job_id} is unknown or expired (kept 24 h)", provider_code=raw)
        elif state is JobState.failed:
            code, message = str(output.get("code") or "FAILED"), str(output.get("message") or "")
            job.error = error_for(code, message) or ProviderServerError(
                f"dashscope: task {job_id} failed: {code}: {message}", provider_code=code
            )
        elif state is JobState.succeeded:
            try:
                job.outputs = _outputs(job_id, output)
            except MalformedReply:
                raise
            except GenPulseError as exc:  # every image withheld: the job failed
                job.state, job.error = JobState.failed, exc
        return job

    async def cancel(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> bool:
        try:
            await self._call(client, "POST", f"/api/v1/tasks/{job_id}/cancel")
        except ProviderInvalidInput:
            return False  # no longer PENDING: it runs to its end
        return True


def _request_body(params: BaseModel) -> dict[str, Any]:
    fields = params.model_dump(exclude_none=True)
    model = fields.pop("model")
    inputs = {k: fields.pop(k) for k in ("prompt", "negative_prompt", "img_url") if k in fields}
    if "img_url" in inputs:
        inputs["img_url"] = split_image(inputs["img_url"]).url_or_data_uri
    return {"model": model, "input": inputs, "parameters": fields}


def _outputs(job_id: str, output: dict[str, Any]) -> list[VendorOutput]:
    if isinstance(output.get("video_url"), str) and output["video_url"]:
        return [VendorOutput("video", url=output["video_url"])]
    results = output.get("results")
    if not isinstance(results, list) or not results:
        raise MalformedReply(f"dashscope: task {job_id} succeeded without results or video_url")
    outputs = [VendorOutput("image", url=r["url"]) for r in results if isinstance(r, dict) and r.get("url")]
    if not outputs:
        first = next((r for r in results if isinstance(r, dict) and r.get("code")), None)
        if first is not None:
            raise error_for(str(first["code"]), str(first.get("message", ""))) or ProviderServerError(
                f"dashscope: every image of task {job_id} failed: {first['code']}", provider_code=str(first["code"])
            )
        raise MalformedReply(f"dashscope: task {job_id}: results without urls")
    return outputs
