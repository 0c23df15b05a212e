"""VolcEngine Visual API (Jimeng): ``CVSync2AsyncSubmitTask`` / ``CVSync2AsyncGetResult``, version 2022-08-31.

``POST /?Action=...&Version=...`` with a JSON body, signed with Volc HMAC-SHA256 (service ``cv``, region
``cn-north-1``). Business replies are ``{"code", "message", "data", "request_id"}``: ``code == 10000`` is
success, anything else is mapped by ``CODES``; gateway errors (signature, unknown key) come as
``ResponseMetadata.Error`` and are auth errors. ``data.status``: ``in_queue``, ``generating``, ``done``,
``not_found``, ``expired``. Outputs: ``data.image_urls[]`` / ``data.binary_data_base64[]`` / ``data.video_url``.
Poll needs the ``req_key``, so our job id is ``{req_key}:{task_id}``. No cancel API.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from genpulse.core.errors import (
    ContentModerated,
    GenPulseError,
    MalformedReply,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
)
from genpulse.providers.cloud import JobState, VendorJob, VendorOutput
from genpulse.providers.http import send_json
from genpulse.providers.request_signing import canonical_query, volc_sign

VERSION, REGION, SERVICE = "2022-08-31", "cn-north-1", "cv"
DEFAULT_URL = "https://visual.volcengineapi.com"

# code -> (error class, retryable); retryability as in the vendor's tables (50500/50501 disagree: retried)
CODES: dict[int, tuple[type[GenPulseError], bool]] = {
    50411: (ContentModerated, False),  # input image
    50412: (ContentModerated, False),  # input text
    50413: (ContentModerated, False),  # sensitive / copyright words
    50512: (ContentModerated, False),  # output text
    50518: (ContentModerated, False),  # input copyright image
    50218: (ContentModerated, False),
    50511: (ContentModerated, False),  # output image: never retried (the vendor may have billed the run)
    50516: (ContentModerated, True),  # output video
    50517: (ContentModerated, True),  # output audio
    50519: (ContentModerated, True),  # output copyright image
    50520: (ProviderServerError, False),  # moderation service errors: "do not retry"
    50521: (ProviderServerError, False),
    50522: (ProviderServerError, False),
    50429: (ProviderRateLimited, True),  # QPS
    50430: (ProviderRateLimited, True),  # concurrency
    50500: (ProviderServerError, True),
    50501: (ProviderServerError, True),
    50215: (ProviderInvalidInput, False),
    50204: (ProviderInvalidInput, False),
    50400: (ProviderAuthError, False),  # access denied: req_key not activated, no permission, unpaid
}
# codes that, on a poll, mean the job itself ended (as opposed to the poll request failing)
JOB_ENDING = {c for c, (cls, _) in CODES.items() if cls in (ContentModerated, ProviderInvalidInput)} | {
    50520,
    50521,
    50522,
}
STATES = {"in_queue": JobState.queued, "generating": JobState.running, "done": JobState.succeeded}


def classify(status: int, body: Any) -> GenPulseError | None:
    if not isinstance(body, dict):
        return None
    meta_error = (body.get("ResponseMetadata") or {}).get("Error") if "ResponseMetadata" in body else None
    if isinstance(meta_error, dict):
        code = str(meta_error.get("Code", ""))
        message = f"volcengine: {code}: {meta_error.get('Message', '')}"
        if "limit" in code.lower() or "throttl" in code.lower():
            return ProviderRateLimited(message, provider_code=code)
        if status >= 500:
            return ProviderServerError(message, provider_code=code)
        return ProviderAuthError(message, provider_code=code)
    code = body.get("code")
    if not isinstance(code, int) or code == 10000:
        return None
    message = f"volcengine: {code} {body.get('message', '')} (request {body.get('request_id', '?')})"
    cls, retryable = CODES.get(code, (None, False))
    if cls is None:
        return None if status >= 400 else ProviderError(message, provider_code=str(code))
    return cls(message, provider_code=str(code), retryable=retryable)


async def call(
    client: httpx.AsyncClient, base_url: str, ak: str, sk: str, action: str, params: dict, now: float, timeout: float
) -> dict[str, Any]:
    query = canonical_query({"Action": action, "Version": VERSION})
    body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
    headers = volc_sign(
        access_key=ak,
        secret_key=sk,
        region=REGION,
        service=SERVICE,
        host=urlsplit(base_url).netloc,
        query={"Action": action, "Version": VERSION},
        body=body,
        now=now,
    )
    reply = await send_json(
        client,
        "volcengine",
        "POST",
        f"{base_url}/?{query}",
        classify=classify,
        headers=headers,
        content=body,
        timeout=timeout,
    )
    if not isinstance(reply, dict) or reply.get("code") != 10000:
        raise MalformedReply(f"volcengine: {action}: unexpected reply {str(reply)[:200]}")
    return reply


def submitted(req_key: str, reply: dict[str, Any]) -> VendorJob:
    data = reply.get("data") if isinstance(reply.get("data"), dict) else {}
    task_id = data.get("task_id")
    if not isinstance(task_id, str | int) or not str(task_id):
        raise MalformedReply(f"volcengine: submit reply has no data.task_id: {str(reply)[:200]}")
    return VendorJob(f"{req_key}:{task_id}", JobState.queued)


def job_from_poll(job_id: str, reply: dict[str, Any]) -> VendorJob:
    data = reply.get("data")
    if not isinstance(data, dict):
        raise MalformedReply(f"volcengine: job {job_id}: reply has no data object")
    raw = data.get("status")
    if raw in ("not_found", "expired"):
        error = ProviderServerError(f"volcengine: job {job_id} is {raw} at the vendor", provider_code=raw)
        return VendorJob(job_id, JobState.failed, error=error, raw_status=raw)
    state = STATES.get(raw) if isinstance(raw, str) else None
    if state is None:
        raise MalformedReply(f"volcengine: unknown status {raw!r} for job {job_id}", provider_code=str(raw))
    job = VendorJob(job_id, state, raw_status=raw)
    if state is JobState.succeeded:
        job.outputs = _outputs(job_id, data)
    return job


def ends_job(error: GenPulseError) -> bool:
    """Whether a poll's error reply means the job itself ended (moderation, invalid task) rather than the poll."""
    code = error.provider_code or ""
    return code.isdigit() and int(code) in JOB_ENDING


def failed_job(job_id: str, error: GenPulseError) -> VendorJob:
    return VendorJob(job_id, JobState.failed, error=error, raw_status=error.provider_code)


def _outputs(job_id: str, data: dict[str, Any]) -> list[VendorOutput]:
    if isinstance(data.get("video_url"), str) and data["video_url"]:
        return [VendorOutput(kind="video", url=data["video_url"], content_type="video/mp4")]
    urls = data.get("image_urls") or []
    if isinstance(urls, list) and urls and all(isinstance(u, str) and u for u in urls):
        return [VendorOutput(kind="image", url=u) for u in urls]
    blobs = data.get("binary_data_base64") or []
    try:
        if isinstance(blobs, list) and blobs:
            return [VendorOutput(kind="image", data=base64.b64decode(b, validate=True)) for b in blobs]
    except (binascii.Error, TypeError, ValueError):
        pass
    raise MalformedReply(f"volcengine: job {job_id} is done without image_urls, binary_data_base64 or video_url")
