"""Shared parts of the vendor imitations: a controllable clock, jobs walked through phases by time, fault
injection and output files served back with an expiry.

A job is ``queued`` for ``queue_s``, ``running`` for ``run_s``, then ends with its ``outcome``:
``succeed`` | ``fail`` (generic failure) | ``moderated`` (output moderation) | ``unknown`` (an undocumented
status) | ``malformed`` (a reply missing its fields) | ``forever`` (runs, never finishes) | ``stuck`` (stays
queued: the vendor never gets to it). A job's outcome is named in its request by a marker such as
``[outcome:forever]`` (in a prompt), else taken from ``outcomes`` (a queue), else ``succeed``. ``errors`` is a
queue of vendor error names: each request that passes auth pops one and answers with that vendor's error instead.

Faults below the vendor's API, the same for every imitation (``FaultInjector``, queued by ``inject``):
``truncated`` (the vendor's real reply, cut off half way) and ``html`` (HTTP 200 with an HTML page, as a proxy or
WAF in front of the vendor sends). Output downloads (``file_paths``) are never faulted. ``image_payload`` and
``file_content_type`` choose the bytes and the declared type of image outputs (a CDN that labels everything
``application/octet-stream`` is common).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
OUTCOME_MARKER = re.compile(r"\[outcome:([a-z_]+)\]")
TRANSPORT_FAULTS = ("truncated", "html")


def tiny_png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def tiny_jpeg(color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="JPEG")
    return buf.getvalue()


def marker(outcome: str) -> str:
    """The text that, anywhere in a job's request, makes the imitation give the job this outcome."""
    return f"[outcome:{outcome}]"


class Clock:
    """Real time plus an offset tests can advance (``advance``); or frozen at ``start`` when given."""

    def __init__(self, start: float | None = None) -> None:
        self._frozen = start
        self._offset = 0.0

    def __call__(self) -> float:
        return (self._frozen if self._frozen is not None else time.time()) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass
class Job:
    id: str
    kind: str  # "image" | "video"
    created: float
    outcome: str
    body: dict[str, Any]
    canceled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    kind: str  # one of TRANSPORT_FAULTS
    path: str | None = None  # only a request whose path starts with this (None: the next API request)


class Imitation:
    #: paths of output downloads, never faulted
    file_paths: tuple[str, ...] = ("/_files/",)

    def __init__(self, *, queue_s: float = 0.1, run_s: float = 0.2, clock: Clock | None = None) -> None:
        self.queue_s, self.run_s = queue_s, run_s
        self.clock = clock or Clock()
        self.jobs: dict[str, Job] = {}
        self.outcomes: deque[str] = deque()
        self.errors: deque[Any] = deque()
        self.faults: deque[Fault] = deque()
        self.requests: list[Any] = []
        self.base_url = ""  # set by the test once the server runs; output URLs point back here
        self.file_ttl_s = 3600.0
        self.image_payload = tiny_png()
        self.file_content_type: str | None = None  # None: the payload's own type
        self._seq = 0

    def reset(self) -> None:
        """Between tests: a fresh clock, no queued outcomes, errors or faults, the default payloads."""
        self.clock = Clock()
        self.outcomes.clear()
        self.errors.clear()
        self.faults.clear()
        self.image_payload = tiny_png()
        self.file_content_type = None

    def inject(self, kind: str, path: str | None = None) -> None:
        assert kind in TRANSPORT_FAULTS, kind
        self.faults.append(Fault(kind, path))

    def take_fault(self, path: str) -> Fault | None:
        if path.startswith(self.file_paths):
            return None
        for fault in self.faults:
            if fault.path is None or path.startswith(fault.path):
                self.faults.remove(fault)
                return fault
        return None

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def draw_outcome(self, body: Any) -> str:
        found = OUTCOME_MARKER.search(json.dumps(body, ensure_ascii=False))
        if found:
            return found.group(1)
        return self.outcomes.popleft() if self.outcomes else "succeed"

    def new_job(self, job_id: str, kind: str, body: dict[str, Any]) -> Job:
        job = Job(job_id, kind, self.clock(), self.draw_outcome(body), body)
        self.jobs[job_id] = job
        return job

    def phase(self, job: Job) -> str:
        """``queued`` | ``running`` | ``canceled`` | the job's outcome."""
        if job.canceled:
            return "canceled"
        age = self.clock() - job.created
        if age < self.queue_s or job.outcome == "stuck":
            return "queued"
        if age < self.queue_s + self.run_s or job.outcome == "forever":
            return "running"
        return job.outcome

    def pop_error(self) -> Any:
        return self.errors.popleft() if self.errors else None

    def file_url(self, job: Job, index: int = 0) -> str:
        ext = "mp4" if job.kind == "video" else "png"
        expires = int(self.clock() + self.file_ttl_s)
        return f"{self.base_url}/_files/{job.id}-{index}.{ext}?Expires={expires}"

    async def serve_file(self, request: Request) -> Response:
        if float(request.query_params.get("Expires", "0")) < self.clock():
            return Response(b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", 403)
        name = request.path_params["name"]
        if name.endswith(".mp4"):
            return Response(FAKE_MP4, media_type=self.file_content_type or "video/mp4")
        return Response(self.image_payload, media_type=self.file_content_type or "image/png")


class FaultInjector:
    """ASGI middleware of every imitation: answers the next API request with a queued transport fault."""

    def __init__(self, app: ASGIApp, state: Imitation) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.state.take_fault(scope["path"]) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "html":
            page = b"<html><head><title>Access check</title></head><body>Please wait...</body></html>"
            await _reply(send, 200, b"text/html; charset=utf-8", page)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        content_type = dict(start.get("headers", [])).get(b"content-type", b"application/json")
        await _reply(send, start.get("status", 200), content_type, body[: len(body) // 2])


async def _reply(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
