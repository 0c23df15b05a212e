"""Shared parts of the vendor imitations: a controllable clock, jobs walked through phases by time, fault
injection queues and output files served back with an expiry.

A job is ``queued`` for ``queue_s``, ``running`` for ``run_s``, then ends with its ``outcome``:
``succeed`` | ``fail`` (generic failure) | ``moderated`` (output moderation) | ``unknown`` (an undocumented
status) | ``malformed`` (a reply missing its fields) | ``forever`` (never finishes). The next job's outcome is
taken from ``outcomes`` (a queue), else ``succeed``. ``errors`` is a queue of vendor error names: each request
that passes auth pops one and answers with that error instead.
"""

from __future__ import annotations

import io
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response

FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def tiny_png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


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


class Imitation:
    def __init__(self, *, queue_s: float = 0.1, run_s: float = 0.2, clock: Clock | None = None) -> None:
        self.queue_s, self.run_s = queue_s, run_s
        self.clock = clock or Clock()
        self.jobs: dict[str, Job] = {}
        self.outcomes: deque[str] = deque()
        self.errors: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""  # set by the test once the server runs; output URLs point back here
        self.file_ttl_s = 3600.0
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_job(self, job_id: str, kind: str, body: dict[str, Any]) -> Job:
        outcome = self.outcomes.popleft() if self.outcomes else "succeed"
        job = Job(job_id, kind, self.clock(), outcome, body)
        self.jobs[job_id] = job
        return job

    def phase(self, job: Job) -> str:
        """``queued`` | ``running`` | ``canceled`` | the job's outcome."""
        if job.canceled:
            return "canceled"
        age = self.clock() - job.created
        if age < self.queue_s:
            return "queued"
        if age < self.queue_s + self.run_s or job.outcome == "forever":
            return "running"
        return job.outcome

    def pop_error(self) -> str | None:
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
            return Response(FAKE_MP4, media_type="video/mp4")
        return Response(tiny_png(), media_type="image/png")
