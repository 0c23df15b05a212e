"""A webhook receiver for tests: a real ASGI app that verifies every signature and refuses on demand."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genpulse.webhooks import signatures


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    """ASGI app. Answers ``refuse_status`` to the first ``refuse_first`` requests and while ``down()`` is true."""

    secret: str
    refuse_first: int = 0
    refuse_status: int = 500
    down: Callable[[], bool] = lambda: False
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 204]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            signatures.verify(self.secret, headers, body)
            ok = True
        except signatures.InvalidSignature:
            ok = False
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        refused = len(self.received) < self.refuse_first or self.down()
        status = self.refuse_status if refused else (204 if ok else 401)
        self.received.append(Received(headers, body, ok, status))
        if status == 204:
            self.arrived.set()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
