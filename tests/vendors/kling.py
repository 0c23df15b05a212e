"""Imitation of the Kling AI API (``/v1/images/generations``, ``/v1/videos/text2video``, ``/v1/videos/image2video``).

Checks the JWT as Kling does (HS256 over the received ``header.payload``, ``iss`` a known access key,
``nbf <= now < exp``: 1001 empty, 1002 invalid, 1003 not yet valid, 1004 expired, all HTTP 401), validates the
documented request fields (1200/1201), walks tasks ``submitted → processing → succeed | failed`` and injects
every documented error code by name (``state.errors.append(1302)``), or a slow answer (``"slow"``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation, Job

ERRORS: dict[int, tuple[int, str]] = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears (postpaid scenario)"),
    1102: (429, "Resource pack depleted or expired (prepaid scenario)"),
    1103: (403, "Unauthorized access to requested resource"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters"),
    1202: (404, "Invalid request method"),
    1203: (404, "Requested resource does not exist"),
    1300: (400, "Trigger platform strategy"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast, please slow down the request rate"),
    1303: (429, "parallel task over resource pack limit"),
    1304: (429, "Trigger the platform's IP whitelisting policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "Server internal timeout, usually due to a backlog"),
}
KINDS = {"images/generations": "image", "videos/text2video": "video", "videos/image2video": "video"}


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class KlingState(Imitation):
    def __init__(self, keys: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = keys
        self.tokens: list[str] = []

    def error(self, code: int) -> JSONResponse:
        status, message = ERRORS[code]
        return JSONResponse({"code": code, "message": message, "request_id": f"req-{self.next_seq()}"}, status)

    def check_jwt(self, request: Request) -> int | None:
        auth = request.headers.get("authorization", "")
        if not auth:
            return 1001
        if not auth.startswith("Bearer "):
            return 1002
        token = auth[len("Bearer ") :]
        try:
            header_b64, payload_b64, sig_b64 = token.split(".")
            header, claims = json.loads(_b64decode(header_b64)), json.loads(_b64decode(payload_b64))
            signature = _b64decode(sig_b64)
        except ValueError:
            return 1002
        secret = self.keys.get(claims.get("iss"))
        if header.get("alg") != "HS256" or secret is None:
            return 1002
        expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            return 1002
        now = self.clock()
        if "nbf" in claims and claims["nbf"] > now:
            return 1003
        if "exp" not in claims or claims["exp"] <= now:
            return 1004
        self.tokens.append(token)
        return None

    def envelope(self, data: Any) -> JSONResponse:
        return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": f"req-{self.next_seq()}", "data": data})

    def task_data(self, job: Job) -> dict[str, Any]:
        phase = self.phase(job)
        ms = int(job.created * 1000)
        data: dict[str, Any] = {
            "task_id": job.id,
            "task_info": {},
            "created_at": ms,
            "updated_at": int(self.clock() * 1000),
        }
        status = {"queued": "submitted", "running": "processing", "succeed": "succeed"}.get(phase, "failed")
        if phase == "unknown":
            status = "paused"
        data["task_status"] = status
        data["task_status_msg"] = {
            "moderated": "Failure to pass the risk control system",
            "fail": "Generation failed, please retry",
        }.get(phase, "")
        if phase == "succeed":
            key = "images" if job.kind == "image" else "videos"
            count = int(job.body.get("n", 1)) if job.kind == "image" else 1
            data["final_unit_deduction"] = "1"
            data["task_result"] = {
                key: [{"index": i, "id": f"{job.id}-{i}", "url": self.file_url(job, i)} for i in range(count)]
            }
        if phase == "malformed":
            data = {"task_id": job.id, "task_status": "succeed", "task_result": {"videos": [{"id": "x"}]}}
        return data


def _validate(path: str, body: dict[str, Any]) -> int | None:
    if path != "videos/image2video" and not body.get("prompt"):
        return 1200
    if path == "videos/image2video" and not (body.get("image") or body.get("image_tail")):
        return 1200
    for key in ("image", "image_tail"):
        if str(body.get(key, "")).startswith("data:"):
            return 1201  # Kling wants raw base64, without the data: prefix
    if "duration" in body and body["duration"] not in ("5", "10"):
        return 1201
    if "n" in body and not 1 <= int(body["n"]) <= 9:
        return 1201
    return None


def build_app(state: KlingState) -> Starlette:
    async def authorized(request: Request) -> JSONResponse | None:
        code = state.check_jwt(request)
        if code is None and (injected := state.pop_error()) is not None:
            if injected == "slow":  # answer later than the client waits
                await asyncio.sleep(1.0)
                return None
            code = int(injected)
        return state.error(code) if code is not None else None

    async def create(request: Request) -> JSONResponse:
        if (denied := await authorized(request)) is not None:
            return denied
        path = f"{request.path_params['group']}/{request.path_params['kind']}"
        if path not in KINDS:
            return state.error(1202)
        body = await request.json()
        state.requests.append({"path": path, "body": body})
        if (bad := _validate(path, body)) is not None:
            return state.error(bad)
        job = state.new_job(str(781543326539272253 + state.next_seq()), KINDS[path], body)
        return state.envelope(
            {"task_id": job.id, "task_status": "submitted", "task_info": {}, "created_at": int(job.created * 1000)}
        )

    async def query(request: Request) -> JSONResponse:
        if (denied := await authorized(request)) is not None:
            return denied
        job = state.jobs.get(request.path_params["task_id"])
        if job is None:
            return state.error(1203)
        return state.envelope(state.task_data(job))

    return Starlette(
        routes=[
            Route("/v1/{group}/{kind}", create, methods=["POST"]),
            Route("/v1/{group}/{kind}/{task_id}", query, methods=["GET"]),
            Route("/_files/{name}", state.serve_file, methods=["GET"]),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
