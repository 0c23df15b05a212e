"""The per-replica cap on long-lived requests: event streams, ``?wait=N`` and ``Prefer: wait=N``.

They hold the replica (and, with Redis, a store connection) for seconds to minutes while doing nothing, so they
get their own budget, apart from submits and reads: ``server.max_long_lived`` per ingress replica (Serve's
``max_ongoing_requests`` of the Ingress is ``server.max_ongoing_requests`` plus this cap, so the short requests
always keep their room). One more long-lived request is refused at once with ``ServiceUnavailable`` (503,
``Retry-After``), before anything is stored or streamed.

``create_api`` puts one ``LongLivedLimit`` on ``app.state.long_lived``. A route takes a ``Slot`` before it
starts waiting and releases it when the wait ends; an event stream's slot is released by ``HeldStream`` when the
response ends, however it ends (the task finished, the client went away, the replica is cancelling it).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from genpulse.core.errors import ServiceUnavailable

RETRY_AFTER_S = 2.0


class Slot:
    """One long-lived request's place; ``release`` is idempotent. Also a context manager."""

    def __init__(self, limit: LongLivedLimit) -> None:
        self._limit: LongLivedLimit | None = limit

    def release(self) -> None:
        limit, self._limit = self._limit, None
        if limit is not None:
            limit._release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class LongLivedLimit:
    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("the long-lived cap must be at least 1")
        self.cap = cap
        self._active = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        return self._active

    def take(self, what: str) -> Slot:
        """A slot for one long-lived request, or ``ServiceUnavailable`` (503, ``Retry-After``) when all are taken."""
        with self._lock:
            if self._active >= self.cap:
                raise ServiceUnavailable(
                    f"this replica already holds {self.cap} long-lived requests (event streams and waits); "
                    f"retry the {what} later, or poll without waiting",
                    retry_after=RETRY_AFTER_S,
                    details={"limit": "server.max_long_lived"},
                )
            self._active += 1
        return Slot(self)

    def _release(self) -> None:
        with self._lock:
            self._active -= 1


def long_lived_of(request: Request) -> LongLivedLimit:
    return request.app.state.long_lived


class HeldStream(StreamingResponse):
    """A ``StreamingResponse`` that releases its ``Slot`` when the response ends, whatever ends it."""

    def __init__(
        self,
        content: AsyncIterable[Any] | Iterable[Any],
        slot: Slot,
        *,
        media_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()
