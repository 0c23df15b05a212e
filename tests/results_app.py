"""The API in-process over real HTTP, with a webhook deliverer in its loop and a GPU stand-in that waits on a gate.

``Gates.generate`` is a test double for the diffusion deployment: it returns a real PNG made with Pillow,
at once, or (for a prompt ``hold:<name>``) once the test calls ``gates.open(name)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from genpulse.api.app import create_api
from genpulse.core.config import AppArgs
from genpulse.tasks import TaskStore
from genpulse.webhooks.deliver import WebhookDeliverer
from genpulse.wiring.in_process import LocalRuntime, build_local
from tests.vendors.server import serve_asgi


def png(width: int, height: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (seed % 256, 80, 160)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Gates:
    events: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _gate(self, name: str) -> threading.Event:
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    def open(self, name: str) -> None:
        self._gate(name).set()

    async def generate(self, params: dict[str, Any]) -> dict[str, Any]:
        prompt = str(params["prompt"])
        if prompt.startswith("hold:"):
            assert await asyncio.to_thread(self._gate(prompt[5:]).wait, 60), f"gate {prompt} never opened"
        seed = params.get("seed") or 7
        return {"images": [png(params["width"], params["height"], seed)], "seed": seed}


class _WithDeliverer:
    """Starts the deliverer's loop in the server's event loop on the first request."""

    def __init__(self, app: Any, deliverer: WebhookDeliverer) -> None:
        self.app, self.deliverer = app, deliverer
        self.job: asyncio.Task[None] | None = None
        self.event_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.job is None:
            self.event_loop = asyncio.get_running_loop()
            self.job = self.event_loop.create_task(self.deliverer.run_forever())
        await self.app(scope, receive, send)

    def stop(self) -> None:
        if self.job is not None and self.event_loop is not None and not self.event_loop.is_closed():
            self.event_loop.call_soon_threadsafe(self.job.cancel)


@dataclass
class ResultsApp:
    url: str
    runtime: LocalRuntime
    gates: Gates


@contextlib.contextmanager
def results_app(args: AppArgs, store: TaskStore | None = None) -> Iterator[ResultsApp]:
    gates = Gates()
    runtime = build_local(args, store=store, generate=gates.generate)
    api = create_api(args.server.max_body_bytes, args.server.max_long_lived)
    api.state.service = runtime.service
    deliverer = WebhookDeliverer(runtime.service.store, args.webhooks, security=args.security)
    wrapped = _WithDeliverer(api, deliverer)
    with serve_asgi(wrapped) as url:
        httpx.get(f"{url}/health").raise_for_status()
        try:
            yield ResultsApp(url, runtime, gates)
        finally:
            wrapped.stop()
            for name in list(gates.events):  # release anything a test left held
                gates.open(name)
