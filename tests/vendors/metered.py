"""Wrap a vendor imitation to meter what it sees (every API call's wall-clock time) and to inject random 429s and
500s.

The fault draw uses a seeded ``random.Random``: randomness is the one thing tests may control.
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


class Metered:
    def __init__(
        self, app: ASGIApp, *, prefix: str = "/v1/", fault_rate: float = 0.0, seed: int = 7, faults: tuple = (429, 500)
    ) -> None:
        self.app, self.prefix = app, prefix
        self.fault_rate, self.faults = fault_rate, faults
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.calls: list[float] = []
        self.injected: dict[int, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.calls.append(time.time())
            fault = self._rng.choice(self.faults) if self._rng.random() < self.fault_rate else None
            if fault:
                self.injected[fault] = self.injected.get(fault, 0) + 1
        if fault is None:
            await self.app(scope, receive, send)
            return
        code = 1302 if fault == 429 else 5000
        body = json.dumps({"code": code, "message": "injected", "request_id": "inj"}).encode()
        headers: list[Any] = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": fault, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def max_per_second(self) -> int:
        """The most calls in one wall-clock second, as a vendor's quota counter (and fakevendor.py) counts."""
        return max_per_second(self.calls)


def max_per_second(stamps: list[float]) -> int:
    buckets: dict[int, int] = {}
    for t in stamps:
        buckets[int(t)] = buckets.get(int(t), 0) + 1
    return max(buckets.values(), default=0)
