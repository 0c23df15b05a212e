"""Imitation of the MiniMax API: video v1 (create → query → files/retrieve) and image generation.

Checks ``Authorization: Bearer <key>`` as MiniMax does (HTTP 200, ``base_resp.status_code`` 1004), requires the
documented fields (2013), walks tasks ``Preparing → Queueing → Processing → Success | Fail`` and injects each
documented ``base_resp`` code (``state.errors.append(1008)``) or ``"http_502"`` (a gateway error page).
Job outcomes (``state.outcomes``): ``fail`` (Fail, 1000), ``moderated`` (Fail, 1027), ``unknown`` (an undocumented
status), ``malformed`` (Success without file_id), ``forever``. ``"group_id"`` can be required on files/retrieve.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation

MESSAGES = {
    0: "success",
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit exceeded (RPM)",
    1004: "authorized failed, token not match group",
    1008: "insufficient balance",
    1024: "internal error",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    1033: "system error",
    1039: "token limit",
    2013: "invalid params",
    2038: "real-name verification required",
}
T2V = {"MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02", "T2V-01-Director", "T2V-01", "video-01"}
I2V = {"MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02", "I2V-01-Director", "I2V-01", "I2V-01-live"}


def base(code: int = 0) -> dict[str, Any]:
    return {"status_code": code, "status_msg": MESSAGES[code]}


class MiniMaxState(Imitation):
    def __init__(self, key: str, group_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key, self.group_id = key, group_id
        self.files: dict[str, str] = {}  # file_id -> job id

    def gate(self, request: Request) -> Response | None:
        """Auth first, then an injected error; None lets the request through."""
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return JSONResponse({"base_resp": base(1004)})
        code = self.pop_error()
        if code == "http_502":
            return PlainTextResponse("<html><body>502 Bad Gateway</body></html>", 502)
        if code is not None:
            return JSONResponse({"base_resp": base(int(code))}, 429 if code == 1002 else 200)
        return None

    def status(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return {"task_id": job_id, "status": "", "file_id": "", "base_resp": base(2013)}
        phase = self.phase(job)
        age = self.clock() - job.created
        simple = {"queued": "Preparing" if age < self.queue_s / 2 else "Queueing", "running": "Processing"}
        if phase in simple:
            return {"task_id": job_id, "status": simple[phase], "file_id": "", "base_resp": base()}
        if phase in ("fail", "moderated"):
            return {"task_id": job_id, "status": "Fail", "file_id": "", "base_resp": base(1027 if phase == "moderated"
                                                                                          else 1000)}  # fmt: skip
        if phase == "unknown":
            return {"task_id": job_id, "status": "Archived", "file_id": "", "base_resp": base()}
        if phase == "malformed":
            return {"task_id": job_id, "status": "Success", "base_resp": base()}
        file_id = str(205258526306000 + int(job_id[-3:]))
        self.files[file_id] = job_id
        return {"task_id": job_id, "status": "Success", "file_id": file_id, "video_width": 1280, "video_height": 720,
                "base_resp": base()}  # fmt: skip


def build_app(state: MiniMaxState) -> Starlette:
    async def create(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        body = await request.json()
        state.requests.append(body)
        models = I2V if "first_frame_image" in body else T2V
        if body.get("model") not in models or not (body.get("prompt") or body.get("first_frame_image")):
            return JSONResponse({"task_id": "", "base_resp": base(2013)})
        job = state.new_job(f"106916112212{state.next_seq():03d}", "video", body)
        return JSONResponse({"task_id": job.id, "base_resp": base()})

    async def query(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        return JSONResponse(state.status(request.query_params.get("task_id", "")))

    async def retrieve(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        file_id = request.query_params.get("file_id", "")
        if file_id not in state.files or (state.group_id and request.query_params.get("GroupId") != state.group_id):
            return JSONResponse({"file": None, "base_resp": base(2013)})
        job = state.jobs[state.files[file_id]]
        file = {"file_id": int(file_id), "bytes": 88, "created_at": int(job.created), "filename": "output_aigc.mp4",
                "purpose": "video_generation", "download_url": state.file_url(job)}  # fmt: skip
        return JSONResponse({"file": file, "base_resp": base()})

    async def image(request: Request) -> Response:
        if (refused := state.gate(request)) is not None:
            return refused
        body = await request.json()
        state.requests.append(body)
        if body.get("model") not in ("image-01", "image-01-live") or not body.get("prompt"):
            return JSONResponse({"base_resp": base(2013)})
        job = state.new_job(f"img{state.next_seq()}", "image", body)
        n = int(body.get("n", 1))
        if job.outcome == "moderated":
            urls: list[str] = []
            meta = {"failed_count": str(n), "success_count": "0"}
        else:
            urls = [state.file_url(job, i) for i in range(n)]
            meta = {"failed_count": "0", "success_count": str(n)}
        return JSONResponse({"id": job.id, "data": {"image_urls": urls}, "metadata": meta, "base_resp": base()})

    return Starlette(
        routes=[
            Route("/v1/video_generation", create, methods=["POST"]),
            Route("/v1/query/video_generation", query),
            Route("/v1/files/retrieve", retrieve),
            Route("/v1/image_generation", image, methods=["POST"]),
            Route("/_files/{name}", state.serve_file),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
