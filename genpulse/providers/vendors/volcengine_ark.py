"""VolcEngine Ark (火山方舟): Seedream images (synchronous) and Seedance video tasks, with a bearer API key.

Images: ``POST /images/generations`` → ``data[]{url | b64_json}`` (a finished job with a synthetic id).
Video: ``POST /contents/generations/tasks`` → ``{"id": "cgt-..."}``; ``GET /contents/generations/tasks/{id}`` →
``status`` ``queued | running | succeeded | failed | cancelled | expired`` and ``content.video_url``;
``DELETE /contents/generations/tasks/{id}`` cancels a queued task. Errors: HTTP status plus
``{"error": {"code", "message", "type"}}``, mapped by ``error_for``. Generation controls are sent as top-level
fields (``resolution``, ``ratio``, ``duration``, ``seed``, ``camera_fixed``, ``watermark``), not prompt flags.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import httpx

from genpulse.core.errors import (
    ContentModerated,
    GenPulseError,
    InsufficientBalance,
    MalformedReply,
    ProviderAuthError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState, VendorJob, VendorOutput
from genpulse.providers.http import send_json

DEFAULT_URL = "https://ark.cn-beijing.volces.com/api/v3"
STATES = {
    "queued": JobState.queued,
    "running": JobState.running,
    "succeeded": JobState.succeeded,
    "failed": JobState.failed,
    "cancelled": JobState.canceled,
    "expired": JobState.failed,
}
_RULES: tuple[tuple[tuple[str, ...], type[GenPulseError]], ...] = (
    (("SensitiveContentDetected", "RiskDetection"), ContentModerated),
    (("AccountOverdueError",), InsufficientBalance),
    (("AuthenticationError", "AccessDenied", "ModelNotOpen"), ProviderAuthError),
    (("RateLimitExceeded", "QuotaExceeded", "RateLimit"), ProviderRateLimited),
    (("MissingParameter", "InvalidParameter", "InvalidEndpoint"), ProviderInvalidInput),
    (("InternalServiceError", "ServerOverloaded", "ServiceUnavailable"), ProviderServerError),
)


def error_for(code: str, message: str, status: int | None = None) -> GenPulseError:
    text = f"volcengine ark: {code}: {message}"
    for needles, cls in _RULES:
        if any(n in code for n in needles):
            return cls(text, provider_code=code)
    if status is None or status >= 500:
        return ProviderServerError(text, provider_code=code)
    return ProviderInvalidInput(text, provider_code=code)


def classify(status: int, body: Any) -> GenPulseError | None:
    error = body.get("error") if isinstance(body, dict) else None
    if status < 400 or not isinstance(error, dict) or not error.get("code"):
        return None
    return error_for(str(error["code"]), str(error.get("message", "")), status)


async def call(
    client: httpx.AsyncClient, base_url: str, key: str, method: str, path: str, timeout: float, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    return await send_json(
        client, "volcengine", method, base_url + path, classify=classify, headers=headers, json=body, timeout=timeout
    )


def image_job(reply: Any) -> VendorJob:
    items = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(items, list) or not items:
        error = reply.get("error") if isinstance(reply, dict) else None
        if isinstance(error, dict) and error.get("code"):
            raise error_for(str(error["code"]), str(error.get("message", "")))
        raise MalformedReply(f"volcengine ark: image reply has no data: {str(reply)[:200]}")
    outputs = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
            outputs.append(VendorOutput(kind="image", url=item["url"], extra={"size": item.get("size")}))
        elif isinstance(item, dict) and isinstance(item.get("b64_json"), str):
            try:
                outputs.append(VendorOutput(kind="image", data=base64.b64decode(item["b64_json"], validate=True)))
            except (binascii.Error, ValueError):
                raise MalformedReply("volcengine ark: b64_json is not base64") from None
        else:
            raise MalformedReply(f"volcengine ark: image item without url or b64_json: {str(item)[:200]}")
    return VendorJob(f"ark-img-{uuid.uuid4().hex}", JobState.succeeded, outputs=outputs, raw_status="succeeded")


def created(reply: Any) -> VendorJob:
    task_id = reply.get("id") if isinstance(reply, dict) else None
    if not isinstance(task_id, str) or not task_id:
        raise MalformedReply(f"volcengine ark: create reply has no id: {str(reply)[:200]}")
    return VendorJob(task_id, JobState.queued)


def video_job(job_id: str, reply: Any) -> VendorJob:
    raw = reply.get("status") if isinstance(reply, dict) else None
    state = STATES.get(raw) if isinstance(raw, str) else None
    if state is None:
        raise MalformedReply(f"volcengine ark: unknown status {raw!r} for task {job_id}", provider_code=str(raw))
    job = VendorJob(job_id, state, raw_status=raw)
    if raw == "expired":
        job.error = ProviderTimeout(f"volcengine ark: task {job_id} expired before it ran", provider_code=raw)
    elif state is JobState.failed:
        error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        job.error = error_for(str(error.get("code") or "failed"), str(error.get("message") or "task failed"), 500)
    elif state is JobState.succeeded:
        content = reply.get("content")
        url = content.get("video_url") if isinstance(content, dict) else None
        if not isinstance(url, str) or not url:
            raise MalformedReply(f"volcengine ark: task {job_id} succeeded without content.video_url")
        job.outputs = [VendorOutput(kind="video", url=url, content_type="video/mp4")]
    return job
