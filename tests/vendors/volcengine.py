"""Imitation of VolcEngine: the Visual API (``POST /?Action=CVSync2Async...``) and Ark (``/api/v3/...``), one origin.

Visual: verifies Volc HMAC-SHA256 as the TOP gateway does, independently of the client's signer (credential
scope ``{date}/cn-north-1/cv/request``, known access key, ``X-Date`` within ±15 min, ``X-Content-Sha256`` equal
to the body's hash, signature recomputed over the listed ``SignedHeaders``); failures are HTTP 401 with
``ResponseMetadata.Error``. Business errors use ``{"code", "message", "data": null}`` with the documented HTTP
status. Ark: bearer key (401 ``AuthenticationError``), ``{"error": {code, message, type}}`` errors.
Inject with ``state.errors.append(50430)`` (Visual code), ``append("AccountOverdueError")`` (Ark code) or
``append("SignatureDoesNotMatch")`` (gateway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation, Job

VISUAL_CODES: dict[int, tuple[int, str]] = {
    50411: (400, "Pre Img Risk Not Pass"),
    50511: (400, "Post Img Risk Not Pass"),
    50412: (400, "Text Risk Not Pass"),
    50512: (400, "Post Text Risk Not Pass"),
    50413: (400, "Post Text Risk Not Pass"),
    50516: (400, "Post Video Risk Not Pass"),
    50517: (400, "Post Audio Risk Not Pass"),
    50518: (400, "Pre Img Risk Not Pass: Copyright"),
    50519: (400, "Post Img Risk Not Pass: Copyright"),
    50520: (400, "Risk Internal Error"),
    50521: (400, "Antidirt Internal Error"),
    50522: (400, "Image Copyright Internal Error"),
    50429: (429, "Request Has Reached API Limit, Please Try Later"),
    50430: (429, "Request Has Reached API Concurrent Limit, Please Try Later"),
    50500: (500, "Internal Error"),
    50501: (500, "Internal RPC Error"),
    50215: (400, "Input invalid for this service."),
    50400: (401, "Access Denied: Internal Error"),
}
ARK_CODES: dict[str, tuple[int, str]] = {
    "MissingParameter": (400, "BadRequest"),
    "InvalidParameter": (400, "BadRequest"),
    "InputTextSensitiveContentDetected": (400, "BadRequest"),
    "OutputImageSensitiveContentDetected": (400, "BadRequest"),
    "AuthenticationError": (401, "Unauthorized"),
    "AccountOverdueError": (403, "Forbidden"),
    "AccessDenied": (403, "Forbidden"),
    "InvalidEndpointOrModel.NotFound": (404, "NotFound"),
    "RateLimitExceeded.EndpointRPMExceeded": (429, "TooManyRequests"),
    "QuotaExceeded": (429, "TooManyRequests"),
    "InternalServiceError": (500, "InternalServiceError"),
    "ServerOverloaded": (503, "ServiceUnavailable"),
}
ARK_STATUS = {
    "queued": "queued",
    "running": "running",
    "succeed": "succeeded",
    "canceled": "cancelled",
    "unknown": "paused",
    "expired": "expired",
    "malformed": "succeeded",
}
VISUAL_KEYS = {"jimeng_t2i_v40": "image", "jimeng_ti2v_v30_pro": "video"}
_AUTH = re.compile(
    r"^HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9]+)/request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


def volc_expected_signature(sk: str, x_date: str, region: str, service: str, creq: str) -> str:
    scope = f"{x_date[:8]}/{region}/{service}/request"
    sts = f"HMAC-SHA256\n{x_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    key = sk.encode()
    for part in (x_date[:8], region, service, "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


class VolcState(Imitation):
    def __init__(self, keys: dict[str, str], ark_keys: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys, self.ark_keys = keys, ark_keys

    def gateway_error(self, code: str, action: str, status: int = 401) -> JSONResponse:
        meta = {
            "RequestId": f"2025{self.next_seq():030d}",
            "Action": action,
            "Version": "2022-08-31",
            "Service": "cv",
            "Region": "cn-north-1",
            "Error": {"CodeN": 100010, "Code": code, "Message": f"imitated {code}"},
        }
        return JSONResponse({"ResponseMetadata": meta}, status)

    def visual(self, code: int, data: Any = None) -> JSONResponse:
        status, message = VISUAL_CODES.get(code, (200, "Success"))
        body = {
            "code": code,
            "data": data,
            "message": message,
            "request_id": f"req{self.next_seq()}",
            "status": code,
            "time_elapsed": "10.2ms",
        }
        return JSONResponse(body, status)

    def ark_error(self, code: str) -> JSONResponse:
        status, kind = ARK_CODES[code]
        error = {"code": code, "message": f"imitated {code}. Request id: {self.next_seq()}", "param": "", "type": kind}
        return JSONResponse({"error": error}, status)

    def check_signature(self, request: Request, body: bytes) -> str | None:
        match = _AUTH.match(request.headers.get("authorization", ""))
        if match is None:
            return "MissingAuthenticationToken"
        ak, day, region, service, signed, signature = match.groups()
        if (region, service) != ("cn-north-1", "cv"):
            return "SignatureDoesNotMatch"
        sk = self.keys.get(ak)
        if sk is None:
            return "InvalidAccessKey"
        x_date = request.headers.get("x-date", "")
        try:
            when = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return "InvalidTimestamp"
        if abs(when - self.clock()) > 900 or x_date[:8] != day:
            return "InvalidTimestamp"
        if request.headers.get("x-content-sha256") != hashlib.sha256(body).hexdigest():
            return "SignatureDoesNotMatch"
        names = signed.split(";")
        if "host" not in names or "x-date" not in names or any(n not in request.headers for n in names):
            return "SignatureDoesNotMatch"
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(request.query_params.items())
        )
        headers = "".join(f"{n}:{request.headers[n].strip()}\n" for n in names)
        creq = f"POST\n/\n{query}\n{headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
        expected = volc_expected_signature(sk, x_date, region, service, creq)
        return None if hmac.compare_digest(expected, signature) else "SignatureDoesNotMatch"

    def visual_result(self, job: Job, return_url: bool) -> JSONResponse:
        phase = self.phase(job)
        status = {"queued": "in_queue", "running": "generating", "succeed": "done", "unknown": "paused"}.get(phase)
        if phase == "moderated":
            return self.visual(50516 if job.kind == "video" else 50511)
        if phase == "fail":
            return self.visual(50501)
        if phase in ("malformed", "expired"):
            status = "done" if phase == "malformed" else "expired"
        data: dict[str, Any] = {"status": status, "image_urls": None, "binary_data_base64": None}
        if phase == "succeed" and job.kind == "video":
            data = {"status": "done", "video_url": self.file_url(job), "aigc_meta_tagged": True}
        elif phase == "succeed" and return_url:
            data["image_urls"] = [self.file_url(job)]
        elif phase == "succeed":
            data["binary_data_base64"] = [base64.b64encode(self.image_payload).decode()]
        return self.visual(10000, data)

    def ark_task(self, job: Job) -> dict[str, Any]:
        phase = self.phase(job)
        created = int(job.created)
        task: dict[str, Any] = {
            "id": job.id,
            "model": job.body["model"],
            "created_at": created,
            "updated_at": int(self.clock()),
            "service_tier": "default",
        }
        task["status"] = ARK_STATUS.get(phase, "failed")
        if phase == "succeed":
            task |= {"content": {"video_url": self.file_url(job)}, "usage": {"completion_tokens": 246840}, "seed": 11}
        elif phase == "moderated":
            task["error"] = {"code": "OutputVideoSensitiveContentDetected", "message": "output may be sensitive"}
        elif phase == "fail":
            task["error"] = {"code": "InternalServiceError", "message": "generation failed"}
        return task


def _validate_visual(body: dict[str, Any]) -> int | None:
    kind = VISUAL_KEYS.get(body.get("req_key", ""))
    if kind is None:
        return 50215
    has_image = body.get("image_urls") or body.get("binary_data_base64")
    if not body.get("prompt") and not (kind == "video" and has_image):
        return 50215
    if kind == "video" and body.get("frames", 121) not in (121, 241):
        return 50215
    return None


def _validate_seedance(body: dict[str, Any]) -> bool:
    content = body.get("content")
    if not isinstance(content, list) or not content or not str(body.get("model", "")).startswith("doubao-seedance"):
        return False
    for item in content:
        if item.get("type") == "image_url" and not item.get("image_url", {}).get("url"):
            return False
        if item.get("type") not in ("text", "image_url"):
            return False
    return True


def build_app(state: VolcState) -> Starlette:
    async def visual(request: Request) -> Response:
        raw = await request.body()
        action = request.query_params.get("Action", "")
        if (denied := state.check_signature(request, raw)) is not None:
            return state.gateway_error(denied, action)
        if request.query_params.get("Version") != "2022-08-31" or action not in (
            "CVSync2AsyncSubmitTask",
            "CVSync2AsyncGetResult",
        ):
            return state.gateway_error("InvalidActionOrVersion", action, 404)
        if (injected := state.pop_error()) is not None:
            return state.visual(int(injected)) if str(injected).isdigit() else state.gateway_error(injected, action)
        body = json.loads(raw)
        state.requests.append({"action": action, "body": body})
        if action == "CVSync2AsyncSubmitTask":
            if (bad := _validate_visual(body)) is not None:
                return state.visual(bad)
            job = state.new_job(str(7392616336519610409 + state.next_seq()), VISUAL_KEYS[body["req_key"]], body)
            return state.visual(10000, {"task_id": job.id})
        try:
            options = json.loads(body.get("req_json") or "{}")
        except (TypeError, ValueError):
            return state.visual(50215)
        job = state.jobs.get(str(body.get("task_id")))
        if job is None or job.body.get("req_key") != body.get("req_key"):
            return state.visual(10000, {"status": "not_found"})
        return state.visual_result(job, bool(options.get("return_url")))

    async def ark(request: Request) -> Response:
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in state.ark_keys:
            return state.ark_error("AuthenticationError")
        if (injected := state.pop_error()) is not None:
            return state.ark_error(str(injected))
        path = request.path_params["path"]
        if request.method == "POST":
            body = await request.json()
            state.requests.append({"path": path, "body": body})
        if path == "images/generations" and request.method == "POST":
            if not body.get("prompt") or not str(body.get("model", "")).startswith("doubao-seedream"):
                return state.ark_error("MissingParameter")
            job = state.new_job(f"img-{state.next_seq()}", "image", body)
            if job.outcome == "moderated":
                return state.ark_error("OutputImageSensitiveContentDetected")
            items = [{"url": state.file_url(job), "size": "2048x2048"}] if job.outcome != "malformed" else [{}]
            if body.get("response_format") == "b64_json":
                items = [{"b64_json": base64.b64encode(state.image_payload).decode(), "size": "2048x2048"}]
            return JSONResponse(
                {
                    "model": body["model"],
                    "created": int(state.clock()),
                    "data": items,
                    "usage": {"generated_images": 1, "output_tokens": 16280},
                }
            )
        if path == "contents/generations/tasks" and request.method == "POST":
            if not _validate_seedance(body):
                return state.ark_error("InvalidParameter")
            stamp = datetime.fromtimestamp(state.clock(), UTC).strftime("%Y%m%d%H%M%S")
            job = state.new_job(f"cgt-{stamp}-{state.next_seq():05d}", "video", body)
            return JSONResponse({"id": job.id})
        job = state.jobs.get(path.removeprefix("contents/generations/tasks/"))
        if job is None:
            return state.ark_error("InvalidEndpointOrModel.NotFound")
        if request.method == "DELETE":
            if state.phase(job) != "queued":
                return state.ark_error("InvalidParameter")
            job.canceled = True
            return JSONResponse({})
        return JSONResponse(state.ark_task(job))

    return Starlette(
        routes=[
            Route("/", visual, methods=["POST"]),
            Route("/api/v3/{path:path}", ark, methods=["GET", "POST", "DELETE"]),
            Route("/_files/{name}", state.serve_file, methods=["GET"]),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
