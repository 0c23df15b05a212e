"""Imitation of OpenAI's ``POST /v1/images/generations`` (synchronous).

Checks ``Authorization: Bearer <key>`` (401 ``invalid_api_key``), validates model/size/n/response_format as the
API does (400 ``invalid_request_error``), answers ``data[].b64_json`` for gpt-image-1 and ``data[].url`` for dall-e
(unless ``response_format=b64_json``), and injects each documented error by its code
(``state.errors.append("insufficient_quota")``); ``"malformed"`` answers a body without ``data``. The call is
synchronous, so a job that never finishes (outcome ``forever``) is a request never answered, until the client
hangs up.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.common import FaultInjector, Imitation

ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid_api_key": (401, "invalid_request_error", "Incorrect API key provided: sk-****."),
    "invalid_request_error": (400, "invalid_request_error", "Invalid size. Supported sizes are 1024x1024."),
    "content_policy_violation": (
        400,
        "invalid_request_error",
        "Your request was rejected as a result of our safety system.",
    ),
    "moderation_blocked": (400, "image_generation_user_error", "Your request was rejected by the safety system."),
    "rate_limit_exceeded": (429, "requests", "Rate limit reached for requests"),
    "insufficient_quota": (429, "insufficient_quota", "You exceeded your current quota, please check your plan."),
    "server_error": (500, "server_error", "The server had an error while processing your request."),
    "overloaded": (503, "server_error", "The engine is currently overloaded, please try again later."),
}
SIZES = {
    "gpt-image-1": {"auto", "1024x1024", "1536x1024", "1024x1536"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}


class OpenAIState(Imitation):
    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def error(self, code: str) -> JSONResponse:
        status, kind, message = ERRORS[code]
        headers = {"retry-after": "2"} if code == "rate_limit_exceeded" else {}
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status, headers=headers)


def build_app(state: OpenAIState) -> Starlette:
    async def generate(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {state.key}":
            return state.error("invalid_api_key")
        body = await request.json()
        state.requests.append(body)
        injected = state.pop_error()
        if injected == "malformed":
            return JSONResponse({"created": 1713833628})
        if injected:
            return state.error(injected)
        model = body.get("model", "dall-e-2")
        if model not in SIZES or body.get("size", "1024x1024") not in SIZES[model] or not body.get("prompt"):
            return state.error("invalid_request_error")
        if model == "gpt-image-1" and "response_format" in body:
            return state.error("invalid_request_error")
        job = state.new_job(f"img{state.next_seq()}", "image", body)
        if job.outcome == "forever":
            give_up = time.monotonic() + 120
            while not await request.is_disconnected() and time.monotonic() < give_up:
                await asyncio.sleep(0.05)
            return Response(status_code=504)
        b64 = model == "gpt-image-1" or body.get("response_format") == "b64_json"
        items = []
        for i in range(int(body.get("n", 1))):
            item: dict[str, Any] = (
                {"b64_json": base64.b64encode(state.image_payload).decode()} if b64 else {"url": state.file_url(job, i)}
            )
            if model == "dall-e-3":
                item["revised_prompt"] = "revised: " + body["prompt"]
            items.append(item)
        return JSONResponse({"created": int(state.clock()), "data": items})

    return Starlette(
        routes=[
            Route("/v1/images/generations", generate, methods=["POST"]),
            Route("/_files/{name}", state.serve_file),
        ],
        middleware=[Middleware(FaultInjector, state=state)],
    )
