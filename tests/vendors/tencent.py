"""Imitation of Tencent Cloud API 3.0 for hunyuan, aiart and vclm (all services on one origin).

Verifies TC3-HMAC-SHA256 as Tencent does, independently of the client's signer: parses ``Authorization``,
looks up the SecretId (``AuthFailure.SecretIdNotFound``), checks ``X-TC-Timestamp`` within 300 s
(``AuthFailure.SignatureExpire``), recomputes the canonical request over the listed ``SignedHeaders`` (keys and
values lower-cased, trimmed) and the signature (``AuthFailure.SignatureFailure``). Routes on ``X-TC-Action`` +
``X-TC-Version`` (``InvalidAction`` otherwise). All errors come with HTTP 200 in ``Response.Error``.
Inject an error by its code: ``state.errors.append("RequestLimitExceeded")``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation, Job

ACTIONS = {
    ("SubmitHunyuanImageJob", "2023-09-01"): ("hunyuan", "submit"),
    ("QueryHunyuanImageJob", "2023-09-01"): ("hunyuan", "query"),
    ("SubmitTextToImageJob", "2022-12-29"): ("aiart", "submit"),
    ("QueryTextToImageJob", "2022-12-29"): ("aiart", "query"),
    ("SubmitHunyuanToVideoJob", "2024-05-23"): ("vclm", "submit"),
    ("DescribeHunyuanToVideoJob", "2024-05-23"): ("vclm", "query"),
}
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


def tc3_expected_signature(secret_key: str, date: str, service: str, timestamp: str, creq: str) -> str:
    scope = f"{date}/{service}/tc3_request"
    sts = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    k = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class TencentState(Imitation):
    def __init__(self, keys: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = keys

    def reply(self, fields: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"Response": {**fields, "RequestId": str(uuid.uuid4())}})

    def error(self, code: str, message: str = "") -> JSONResponse:
        return self.reply({"Error": {"Code": code, "Message": message or f"imitated {code}"}})

    def check_signature(self, request: Request, body: bytes) -> str | None:
        match = _AUTH.match(request.headers.get("authorization", ""))
        if match is None:
            return "AuthFailure.InvalidAuthorization"
        secret_id, date, service, signed, signature = match.groups()
        secret_key = self.keys.get(secret_id)
        if secret_key is None:
            return "AuthFailure.SecretIdNotFound"
        timestamp = request.headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - self.clock()) > 300:
            return "AuthFailure.SignatureExpire"
        if datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") != date:
            return "AuthFailure.SignatureFailure"
        names = signed.split(";")
        if "content-type" not in names or "host" not in names or any(n not in request.headers for n in names):
            return "AuthFailure.SignatureFailure"
        headers = "".join(f"{n}:{request.headers[n].strip().lower()}\n" for n in names)
        creq = f"POST\n/\n\n{headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
        expected = tc3_expected_signature(secret_key, date, service, timestamp, creq)
        return None if hmac.compare_digest(expected, signature) else "AuthFailure.SignatureFailure"

    def image_job(self, job: Job) -> dict[str, Any]:
        phase = self.phase(job)
        code = {"queued": "1", "running": "2", "succeed": "5", "unknown": "3"}.get(phase, "4")
        fields: dict[str, Any] = {
            "JobStatusCode": code,
            "JobStatusMsg": {"1": "排队中", "2": "处理中", "5": "处理完成"}.get(code, "处理失败"),
            "JobErrorCode": "",
            "JobErrorMsg": "",
            "ResultImage": [],
            "ResultDetails": [],
        }
        if phase == "succeed":
            count = int(job.body.get("Num", 1))
            fields["ResultImage"] = [self.file_url(job, i) for i in range(count)]
            fields["ResultDetails"] = ["Success"] * count
        elif phase == "moderated":
            fields |= {"JobErrorCode": "OperationDenied.ImageIllegalDetected", "JobErrorMsg": "图片包含违规内容"}
        elif phase == "fail":
            fields |= {"JobErrorCode": "FailedOperation.InnerError", "JobErrorMsg": "内部错误"}
        elif phase == "malformed":
            fields |= {"JobStatusCode": "5", "ResultImage": None}
        return fields

    def video_job(self, job: Job) -> dict[str, Any]:
        phase = self.phase(job)
        status = {"queued": "WAIT", "running": "RUN", "succeed": "DONE", "unknown": "PAUSED"}.get(phase, "FAIL")
        fields = {"Status": status, "ErrorCode": "", "ErrorMessage": "", "ResultVideoUrl": ""}
        if phase == "succeed":
            fields["ResultVideoUrl"] = self.file_url(job)
        elif phase == "moderated":
            fields |= {"ErrorCode": "FailedOperation.ModerationFailed", "ErrorMessage": "审核不通过"}
        elif phase == "fail":
            fields |= {"ErrorCode": "FailedOperation.DriverFailed", "ErrorMessage": "任务失败"}
        elif phase == "malformed":
            fields = {"Status": "DONE", "ErrorCode": "", "ErrorMessage": ""}
            fields["ResultVideoUrl"] = ""
        return fields


def _validate(action: str, body: dict[str, Any]) -> str | None:
    if action in ("SubmitHunyuanImageJob", "SubmitTextToImageJob") and not body.get("Prompt"):
        return "MissingParameter"
    if action == "SubmitHunyuanToVideoJob" and not (body.get("Prompt") or body.get("Image")):
        return "MissingParameter"
    if action == "SubmitHunyuanToVideoJob" and len(body.get("Prompt", "")) > 200:
        return "InvalidParameterValue.TextLengthExceed"
    if action.startswith(("Query", "Describe")) and not body.get("JobId"):
        return "MissingParameter"
    return None


def build_app(state: TencentState) -> Starlette:
    async def endpoint(request: Request) -> JSONResponse:
        raw = await request.body()
        if (denied := state.check_signature(request, raw)) is not None:
            return state.error(denied)
        action, version = request.headers.get("x-tc-action", ""), request.headers.get("x-tc-version", "")
        route = ACTIONS.get((action, version))
        if route is None:
            return state.error("InvalidAction", f"action {action} / {version} not found")
        service, verb = route
        if f"/{service}/tc3_request" not in request.headers["authorization"]:
            return state.error("AuthFailure.SignatureFailure", "credential scope names another service")
        if (injected := state.pop_error()) is not None:
            return state.error(injected)
        body = await request.json()
        state.requests.append({"action": action, "body": body, "host": request.headers.get("host")})
        if (bad := _validate(action, body)) is not None:
            return state.error(bad)
        if verb == "submit":
            if service == "vclm":
                job_id = str(1387262242604040192 + state.next_seq())
            else:
                job_id = f"251197749-{int(state.clock())}-{uuid.uuid4()}-0"
            state.new_job(job_id, "video" if service == "vclm" else "image", body).extra["service"] = service
            return state.reply({"JobId": job_id})
        job = state.jobs.get(body["JobId"])
        if job is None or job.extra["service"] != service:
            return state.error("FailedOperation.JobNotExist", "job not found")
        return state.reply(state.video_job(job) if service == "vclm" else state.image_job(job))

    return Starlette(
        routes=[
            Route("/", endpoint, methods=["POST"]),
            Route("/_files/{name}", state.serve_file, methods=["GET"]),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
