"""Imitation of DashScope's Wan async APIs: image-synthesis and video-synthesis create calls, ``/api/v1/tasks``.

Checks ``Authorization: Bearer <key>`` (401 ``InvalidApiKey``) and ``X-DashScope-Async: enable`` on create
(403 ``AccessDenied`` without it), validates the documented body shape (400 ``InvalidParameter``), walks tasks
``PENDING → RUNNING → SUCCEEDED | FAILED``, honours cancel while PENDING, and injects each documented error
code (``state.errors.append("Arrearage")``). Outcomes: ``fail`` (FAILED, InternalError), ``moderated`` (FAILED,
DataInspectionFailed), ``partial`` (one image withheld), ``unknown`` (an undocumented status), ``malformed``
(SUCCEEDED without results), ``expired`` (UNKNOWN), ``forever``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation

ERRORS: dict[str, tuple[int, str]] = {
    "InvalidParameter": (400, "Missing required parameter or wrong format."),
    "DataInspectionFailed": (400, "Input data may contain inappropriate content."),
    "IPInfringementSuspect": (400, "Input data is suspected of being involved in IP infringement."),
    "Arrearage": (400, "Access denied, please make sure your account is in good standing."),
    "InvalidApiKey": (401, "Invalid API-key provided."),
    "AccessDenied": (403, "current user api does not support synchronous calls"),
    "ModelNotFound": (404, "Model not exist."),
    "Throttling": (429, "Requests throttling triggered."),
    "Throttling.RateQuota": (429, "Requests rate limit exceeded, please try again later."),
    "Throttling.AllocationQuota": (429, "Free allocated quota exceeded."),
    "InternalError": (500, "An internal error has occured, please try again later."),
    "UnsupportedOperation": (400, "Failed to cancel the task, please confirm if the task is in PENDING status."),
}
MODELS = {
    "text2image/image-synthesis": ("image", {"wanx-v1", "wanx2.0-t2i-turbo", "wanx2.1-t2i-turbo", "wanx2.1-t2i-plus",
                                             "wan2.2-t2i-flash", "wan2.2-t2i-plus", "wan2.5-t2i-preview"}),
    "video-generation/video-synthesis": ("video", {"wanx2.1-t2v-turbo", "wanx2.1-t2v-plus", "wan2.2-t2v-plus",
                                                   "wan2.5-t2v-preview", "wanx2.1-i2v-turbo", "wanx2.1-i2v-plus",
                                                   "wan2.2-i2v-flash", "wan2.2-i2v-plus", "wan2.5-i2v-preview"}),
}  # fmt: skip


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class DashScopeState(Imitation):
    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def error(self, code: str) -> JSONResponse:
        status, message = ERRORS[code]
        return JSONResponse({"request_id": str(uuid.uuid4()), "code": code, "message": message}, status)

    def gate(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return self.error("InvalidApiKey")
        code = self.pop_error()
        return self.error(code) if code else None

    def task(self, task_id: str) -> dict[str, Any]:
        job = self.jobs.get(task_id)
        if job is None or self.phase(job) == "expired":
            return {"task_id": task_id, "task_status": "UNKNOWN"}
        phase = self.phase(job)
        out: dict[str, Any] = {"task_id": job.id, "submit_time": stamp(job.created)}
        if phase != "queued":
            out["scheduled_time"] = stamp(job.created + self.queue_s)
        simple = {"queued": "PENDING", "running": "RUNNING", "canceled": "CANCELED", "unknown": "PAUSED"}
        if phase in simple:
            return {**out, "task_status": simple[phase]}
        out["end_time"] = stamp(job.created + self.queue_s + self.run_s)
        if phase in ("fail", "moderated"):
            code = "DataInspectionFailed" if phase == "moderated" else "InternalError"
            return {**out, "task_status": "FAILED", "code": code, "message": ERRORS[code][1]}
        if phase == "malformed":
            return {**out, "task_status": "SUCCEEDED"}
        if job.kind == "video":
            return {**out, "task_status": "SUCCEEDED", "video_url": self.file_url(job)}
        n = int(job.body.get("parameters", {}).get("n", 1))
        results: list[dict[str, Any]] = [{"url": self.file_url(job, i)} for i in range(n)]
        if phase == "partial":
            results[-1] = {"code": "DataInspectionFailed", "message": "Output data may contain inappropriate content."}
        ok = sum("url" in r for r in results)
        return {**out, "task_status": "SUCCEEDED", "results": results,
                "task_metrics": {"TOTAL": n, "SUCCEEDED": ok, "FAILED": n - ok}}  # fmt: skip


def build_app(state: DashScopeState) -> Starlette:
    async def create(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        if request.headers.get("x-dashscope-async") != "enable":
            return state.error("AccessDenied")
        body = await request.json()
        state.requests.append(body)
        kind, models = MODELS[f"{request.path_params['group']}/{request.path_params['action']}"]
        inputs = body.get("input")
        if not isinstance(inputs, dict) or not isinstance(body.get("parameters", {}), dict):
            return state.error("InvalidParameter")
        if body.get("model") not in models:
            return state.error("ModelNotFound")
        if not inputs.get("img_url" if "i2v" in body["model"] else "prompt"):
            return state.error("InvalidParameter")
        job = state.new_job(str(uuid.uuid4()), kind, body)
        return JSONResponse({"output": {"task_status": "PENDING", "task_id": job.id}, "request_id": str(uuid.uuid4())})

    async def query(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        return JSONResponse({"request_id": str(uuid.uuid4()), "output": state.task(request.path_params["task_id"])})

    async def cancel(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        job = state.jobs.get(request.path_params["task_id"])
        if job is None or state.phase(job) != "queued":
            return state.error("UnsupportedOperation")
        job.canceled = True
        return JSONResponse({"request_id": str(uuid.uuid4())})

    return Starlette(
        routes=[
            Route("/api/v1/services/aigc/{group}/{action}", create, methods=["POST"]),
            Route("/api/v1/tasks/{task_id}", query),
            Route("/api/v1/tasks/{task_id}/cancel", cancel, methods=["POST"]),
            Route("/_files/{name}", state.serve_file),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
