"""Vendor faults the way users expect them (issue 12): what a task's error says, and what is retried.

Tiny vendor servers on 127.0.0.1 answer the way real vendors and their proxies do when things go wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from genpulse.core.config import AppArgs
from genpulse.core.errors import ContentModerated, ProviderAuthError, ProviderInvalidInput
from genpulse.providers.http import refused, send_json
from genpulse.providers.registry import Registry
from genpulse.providers.vendors.kling import classify
from tests.vendors.server import serve_asgi

SIGNED = "https://bucket.vendor-cdn.example/out/abc.png?X-Amz-Signature=0123456789abcdef&X-Amz-Credential=AKIA123"
BLOB = "iVBORw0KGgo" + "A" * 400


def app_answering(status: int, body: Any, content_type: str = "application/json") -> Starlette:
    async def any_route(request: Request) -> Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status_code=status, media_type=content_type)

    return Starlette(routes=[Route("/{path:path}", any_route, methods=["GET", "POST"])])


@pytest.fixture
def vendor_reply() -> Iterator[Any]:
    servers: list[Any] = []

    def start(status: int, body: Any, content_type: str = "application/json") -> str:
        ctx = serve_asgi(app_answering(status, body, content_type))
        servers.append(ctx)
        return ctx.__enter__()

    yield start
    for ctx in servers:
        ctx.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"code": 77, "message": f"bad image at {SIGNED}", "data": BLOB}),
        (502, f"<html>upstream {SIGNED} failed {BLOB}</html>"),
        (200, f"not json {SIGNED} {BLOB}"),
    ],
)
async def test_errors_carry_the_vendor_message_not_its_internals(vendor_reply: Any, status: int, body: Any) -> None:
    base = vendor_reply(status, body, "application/json" if isinstance(body, dict) else "text/html")
    async with httpx.AsyncClient() as client:
        with pytest.raises(Exception) as caught:
            await send_json(client, "acme", "POST", f"{base}/v1/jobs?signature=secret-sig", json={})
    message = str(getattr(caught.value, "message", caught.value))
    assert "X-Amz-Signature" not in message and "secret-sig" not in message and "127.0.0.1" not in message
    assert "AAAAAAAAAAAAAAAAAAAA" not in message and len(message) <= 300
    if isinstance(body, dict):
        assert "bad image at <url>" in message  # the vendor's own words stay


async def test_a_bare_gateway_timeout_is_maybe_accepted_and_an_envelope_is_a_refusal(vendor_reply: Any) -> None:
    bare = vendor_reply(504, "<html>gateway timeout</html>", "text/html")
    enveloped = vendor_reply(500, {"code": 5000, "message": "Internal error", "request_id": "r1"})
    async with httpx.AsyncClient() as client:
        with pytest.raises(Exception) as maybe:
            await send_json(client, "acme", "POST", f"{bare}/v1/jobs", json={})
        with pytest.raises(Exception) as no:
            await send_json(client, "kling", "POST", f"{enveloped}/v1/jobs", json={}, classify=classify)
    assert not refused(maybe.value) and refused(no.value)


def comfyui_args(server: str) -> AppArgs:
    return AppArgs.load({"providers": {"comfyui": {"servers": [server], "timeout_s": 5}}})


async def test_comfyui_behind_a_proxy_that_refuses_us_is_an_auth_error_at_once() -> None:
    async def refuse(request: Request) -> Response:
        return PlainTextResponse("401 Authorization Required", status_code=401)

    app = Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST"])])
    with serve_asgi(app) as base:
        provider: Any = Registry(comfyui_args(base)).get("comfyui")
        params = provider.validate("text-to-image", {"workflow": {"1": {"class_type": "X", "inputs": {}}}})
        async with httpx.AsyncClient() as client:
            with pytest.raises(ProviderAuthError) as caught:
                await provider.submit(client, "text-to-image", params)
    assert not caught.value.retryable


async def test_comfyui_content_filter_rejection_is_content_moderation() -> None:
    async def queue(request: Request) -> Response:
        return JSONResponse({"queue_running": [], "queue_pending": []})

    async def prompt(request: Request) -> Response:
        errors = [{"type": "custom", "message": "NSFW content detected by the safety checker", "details": ""}]
        body = {
            "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation"},
            "node_errors": {"9": {"errors": errors, "class_type": "SafetyChecker"}},
        }
        return JSONResponse(body, status_code=400)

    app = Starlette(routes=[Route("/queue", queue), Route("/prompt", prompt, methods=["POST"])])
    with serve_asgi(app) as base:
        provider: Any = Registry(comfyui_args(base)).get("comfyui")
        params = provider.validate("text-to-image", {"workflow": {"1": {"class_type": "X", "inputs": {}}}})
        async with httpx.AsyncClient() as client:
            with pytest.raises(ContentModerated) as caught:
                await provider.submit(client, "text-to-image", params)
    assert not caught.value.retryable and not isinstance(caught.value, ProviderInvalidInput)


def test_moderation_is_never_retryable() -> None:
    assert ContentModerated("risk", retryable=True).retryable is False
