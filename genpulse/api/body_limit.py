"""BodyLimit: refuse request bodies over a size with 413, whether or not they announce a Content-Length.

The 413 is in GenPulse's error envelope, or in OpenAI's on the OpenAI-compatible routes
(``genpulse.api.openai.errors.PATHS``), as their other errors are.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genpulse.api.error_responses import error_body
from genpulse.api.openai import errors as openai_errors


class _TooLarge(HTTPException):
    """Raised mid-read; an HTTPException so FastAPI's body parsing lets it through to the 413 handler."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body exceeds {max_bytes} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ("/v1/assets",)) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await self._refuse(scope, receive, send, max_bytes)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        if scope["path"].startswith(openai_errors.PATHS):
            await openai_errors.error_response(openai_errors.too_large(max_bytes))(scope, receive, send)
            return
        message = f"request body exceeds {max_bytes} bytes"
        body = json.dumps(error_body("payload_too_large", message, {"max_bytes": max_bytes})).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
