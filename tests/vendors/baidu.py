"""Imitation of Baidu Qianfan: ``POST /v2/images/generations`` (synchronous) and ``/video/generations`` tasks.

Checks ``Authorization: Bearer <key>`` (401 ``invalid_iam_token``), validates the documented fields (400
``invalid_request_error``), walks video tasks ``pending → queued → running → succeeded | failed``, deletes
(cancels) tasks not yet running, and injects each documented error by code (``state.errors.append(
"rpm_rate_limit_exceeded")``). Outcomes: ``fail``, ``moderated``, ``unknown``, ``malformed``, ``forever``.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation

ERRORS: dict[str, tuple[int, str, str]] = {
    "malformed_json": (400, "invalid_request_error", "Invalid Argument"),
    "invalid_model": (400, "invalid_request_error", "Invalid model"),
    "invalid_argument": (400, "invalid_request_error", "Invalid Argument"),
    "image_url_unsafe": (400, "unsafe_request", "image url is unsafe"),
    "prompt_unsafe": (400, "unsafe_request", "prompt is unsafe"),
    "invalid_iam_token": (401, "access_denied", "IAM Certification failed"),
    "no_permission": (403, "access_denied", "no permission to access this resource"),
    "account_arrears": (403, "access_denied", "account in arrears"),
    "rpm_rate_limit_exceeded": (429, "rate_limit_exceeded", "Rate limit reached for RPM"),
    "tpm_rate_limit_exceeded": (429, "rate_limit_exceeded", "Rate limit reached for TPM"),
    "internal_error": (500, "internal_error", "Internal error"),
    "task_not_found": (404, "invalid_request_error", "task not found"),
}
IMAGE_MODELS = {"irag-1.0", "flux.1-schnell"}


class BaiduState(Imitation):
    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def error(self, code: str) -> JSONResponse:
        status, kind, message = ERRORS[code]
        body = {"error": {"code": code, "message": message, "type": kind}, "id": f"as-{secrets.token_hex(5)}"}
        return JSONResponse(body, status, headers={"Retry-After": "3"} if status == 429 else {})

    def gate(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return self.error("invalid_iam_token")
        code = self.pop_error()
        return self.error(code) if code else None

    def record(self, task_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(task_id)
        if job is None or job.canceled:
            return None
        phase = self.phase(job)
        age = self.clock() - job.created
        base = {"id": f"as-{job.id[:6]}", "task_id": job.id, "model": job.body["model"], "created_at": int(job.created),
                "updated_at": int(self.clock())}  # fmt: skip
        early = age < self.queue_s / 2
        simple = {"queued": "pending" if early else "queued", "running": "running", "unknown": "paused"}
        if phase in simple:
            return {**base, "status": simple[phase]}
        if phase in ("fail", "moderated"):
            code = "output_unsafe" if phase == "moderated" else "internal_error"
            return {**base, "status": "failed", "error": {"code": code, "message": code.replace("_", " ")}}
        if phase == "malformed":
            return {**base, "status": "succeeded", "content": {}}
        return {**base, "status": "succeeded", "content": {"video_url": self.file_url(job)}, "duration": 5,
                "width": 1280, "height": 704}  # fmt: skip


def build_app(state: BaiduState) -> Starlette:
    async def images(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        body = await request.json()
        state.requests.append(body)
        if body.get("model") not in IMAGE_MODELS:
            return state.error("invalid_model")
        if not body.get("prompt") or not 1 <= int(body.get("n", 1)) <= 4:
            return state.error("invalid_argument")
        job = state.new_job(f"img{state.next_seq()}", "image", body)
        if job.outcome == "malformed":
            return JSONResponse({"id": "as-x", "created": int(job.created)})
        data = [{"url": state.file_url(job, i)} for i in range(int(body.get("n", 1)))]
        return JSONResponse({"id": f"as-{job.id}", "created": int(job.created), "data": data})

    async def videos(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        if request.method == "GET" or request.method == "DELETE":
            record = state.record(request.query_params.get("task_id", ""))
            if record is None:
                return state.error("task_not_found")
            if request.method == "DELETE":
                if record["status"] not in ("pending", "queued"):
                    return state.error("invalid_argument")
                state.jobs[record["task_id"]].canceled = True
            return JSONResponse(record)
        body = await request.json()
        state.requests.append(body)
        content = body.get("content")
        kinds = [c.get("type") for c in content] if isinstance(content, list) else []
        if not str(body.get("model", "")).startswith("musesteamer-") or "image_url" not in kinds:
            return state.error("invalid_argument")
        job = state.new_job(f"tdsx{secrets.token_hex(4)}", "video", body)
        return JSONResponse({"id": f"as-{job.id[:6]}", "task_id": job.id})

    return Starlette(
        routes=[
            Route("/v2/images/generations", images, methods=["POST"]),
            Route("/video/generations", videos, methods=["GET", "POST", "DELETE"]),
            Route("/_files/{name}", state.serve_file),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
