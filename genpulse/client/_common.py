"""What the sync and async clients share: request building, error mapping, retry policy, SSE decoding.

No I/O here; ``sync.GenPulse`` and ``aio.AsyncGenPulse`` do the sending, each in its own style.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from genpulse.core.errors import GenPulseError, ServiceUnavailable, error_from_dict
from genpulse.core.schemas import TaskPublic
from genpulse.tasks.store import TaskEvent

RETRY_STATUS = frozenset({429, 502, 503, 504})
MAX_CHUNK_S = 50.0  # longest single `?wait=` request; a wait loops over chunks


class TaskFailed(GenPulseError):
    """Raised by ``run`` (and ``wait(raise_on_failure=True)``) for a task that ended failed or canceled.

    ``cause`` is the task's own error rebuilt into the error tree; ``task`` is the finished task.
    """

    type = "task_failed"

    def __init__(self, task: TaskPublic) -> None:
        self.task = task
        self.cause = error_from_dict(task.error.model_dump()) if task.error else None
        reason = f"{task.error.type}: {task.error.message}" if task.error else task.status.value
        super().__init__(f"task {task.id} {task.status.value}: {reason}")


class StreamEvent(TaskEvent):
    """One Server-Sent Event of a task: ``event`` is ``status`` or ``progress``; the terminal one has ``task``."""

    event: str = "status"
    task: TaskPublic | None = None


def submit_body(
    provider: str,
    task_type: str,
    params: dict[str, Any] | None,
    *,
    webhook_url: str | None,
    priority: str,
    metadata: dict[str, Any] | None,
    deadline_s: float | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": provider, "task_type": task_type, "params": params or {}, "priority": priority}
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    if metadata:
        body["metadata"] = metadata
    if deadline_s is not None:
        body["deadline_s"] = deadline_s
    return body


def workflow_run_body(
    inputs: dict[str, Any] | None,
    *,
    version: int | None,
    random_seed: bool,
    webhook_url: str | None,
    metadata: dict[str, Any] | None,
    deadline_s: float | None,
) -> dict[str, Any]:
    """The body of ``POST /v1/workflows/{name}/runs`` (docs/workflows.md)."""
    body: dict[str, Any] = {"inputs": inputs or {}, "random_seed": random_seed}
    extra = {"version": version, "webhook_url": webhook_url, "metadata": metadata, "deadline_s": deadline_s}
    return body | {k: v for k, v in extra.items() if v}


def new_idempotency_key() -> str:
    return f"sdk-{uuid.uuid4()}"


def raise_for_error(response: httpx.Response) -> None:
    """Raise the server's error (from its ``{"error": {...}}`` body) as our error tree; nothing for 2xx/3xx."""
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        exc = error_from_dict({"type": err.get("type"), "message": err.get("message")})
        exc.details = err.get("details")
    except (ValueError, KeyError, TypeError, AttributeError):
        exc = GenPulseError(f"HTTP {response.status_code}: {response.text[:200]}")
    exc.status_code = response.status_code
    exc.retry_after = retry_after(response)
    raise exc


def retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def unreachable(exc: httpx.HTTPError) -> ServiceUnavailable:
    return ServiceUnavailable(f"GenPulse server unreachable: {type(exc).__name__}: {exc}")


def may_retry(attempt: int, max_retries: int, *, response: httpx.Response | None, exc: Exception | None, safe: bool):
    """Whether to try again: transport failures (connect failures only for unsafe requests) and 429/502/503/504."""
    if attempt >= max_retries:
        return False
    if exc is not None:
        return safe or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    return response is not None and response.status_code in RETRY_STATUS and safe


def delay(attempt: int, base: float, response: httpx.Response | None = None, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter, at least the server's ``Retry-After``."""
    wait = random.uniform(0, min(cap, base * 2**attempt))
    hinted = retry_after(response) if response is not None else None
    return max(wait, min(hinted or 0.0, cap))


@dataclass
class SSEDecoder:
    """Turns ``text/event-stream`` lines into ``StreamEvent``s (comments and ``retry:`` lines are dropped)."""

    last_id: str | None = None
    _fields: dict[str, str] = field(default_factory=dict)
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> StreamEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name in ("id", "event"):
            self._fields[name] = value
        return None

    def _dispatch(self) -> StreamEvent | None:
        fields, data = self._fields, self._data
        self._fields, self._data = {}, []
        if "id" in fields:
            self.last_id = fields["id"]
        if not data:
            return None
        payload = json.loads("\n".join(data))
        return StreamEvent.model_validate({**payload, "event": fields.get("event", "status")})


@dataclass
class WaitPlan:
    """Long-poll chunks while the server holds requests; polling with backoff when it does not."""

    timeout: float
    poll_initial: float = 0.5
    poll_max: float = 10.0
    _poll: float = 0.0

    def chunk(self, remaining: float) -> float:
        return max(0.0, min(remaining, MAX_CHUNK_S))

    def pause_after(self, asked: float, held: float, remaining: float) -> float:
        """Seconds to sleep after a non-terminal answer: 0 if the server held the request (even if capped)."""
        if held >= min(asked * 0.8, 1.0) or remaining <= 0:
            self._poll = 0.0
            return 0.0
        self._poll = min(self.poll_max, self._poll * 2 if self._poll else self.poll_initial)
        return min(self._poll, remaining)


def upload_part(data: Any, content_type: str | None, filename: str | None) -> tuple[str, bytes, str]:
    """(filename, bytes, content type) of an upload given as bytes, a path or a binary file object."""
    import mimetypes
    from pathlib import Path

    if isinstance(data, str | Path):
        path = Path(data)
        blob, name = path.read_bytes(), filename or path.name
    elif isinstance(data, bytes | bytearray):
        blob, name = bytes(data), filename or "upload"
    else:
        blob, name = data.read(), filename or Path(getattr(data, "name", "upload")).name
    guessed = mimetypes.guess_type(name)[0]
    return name, blob, content_type or guessed or "application/octet-stream"
