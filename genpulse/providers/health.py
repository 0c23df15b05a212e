"""Which provider instances are out for routing, as this process last saw it.

A vendor runner that sees its account refused for an account reason (out of credit, credentials refused) or its
vendor unreachable marks the instance out on the instance's rate limiter (``RateLimiter.report_out``), for the
instance's ``arrears_cooldown_s`` or ``out_cooldown_s``: one mark, cluster-wide. ``InstanceHealth`` keeps a copy
of the marks for model-alias routing (``genpulse.api.openai.catalog``), read from the limiters' ``stats`` at most
once per ``ttl_s`` and only when a request asks: no call to a limiter per request. A limiter that does not answer
keeps its last mark, which still ends on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("genpulse.providers.health")

READ_TIMEOUT_S = 1.0  # a request waits no longer for the marks; it routes on the ones it has


def _consume(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.info("reading the out marks failed: %r", done.exception())


@dataclass(frozen=True)
class OutMark:
    reason: str  # ``arrears``, ``credentials``, ``unreachable``
    until: float  # on this process's clock


class InstanceHealth:
    def __init__(
        self,
        limiters: Callable[[], Mapping[str, object]],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiters, self.ttl_s, self._clock = limiters, ttl_s, clock
        self._marks: dict[str, OutMark] = {}
        self._read_at = -float("inf")
        self._reading: asyncio.Future[None] | None = None

    async def out(self) -> dict[str, OutMark]:
        """The instances out now, by name; read again from their limiters when the copy is older than ``ttl_s``."""
        if self._clock() - self._read_at >= self.ttl_s:
            if self._reading is None or self._reading.done():
                self._reading = asyncio.ensure_future(self._read())
                self._reading.add_done_callback(_consume)
            with contextlib.suppress(Exception):  # too slow or failed: route on what we have
                await asyncio.wait_for(asyncio.shield(self._reading), READ_TIMEOUT_S)
        now = self._clock()
        return {name: mark for name, mark in self._marks.items() if mark.until > now}

    async def describe(self) -> dict[str, dict[str, Any]]:
        """``out`` for people: the reason and the seconds left, by instance."""
        marks, now = await self.out(), self._clock()
        return {name: {"reason": m.reason, "for_s": round(max(0.0, m.until - now), 3)} for name, m in marks.items()}

    async def _read(self) -> None:
        try:
            limiters = dict(self._limiters())
            answers = await asyncio.gather(*(self._stats(limiter) for limiter in limiters.values()))
        finally:
            self._read_at = self._clock()  # failed or not: not again before ``ttl_s``
        now = self._clock()
        for name, stats in zip(limiters, answers, strict=True):
            if stats is None:
                continue  # no answer: its last mark stands, and ends on time
            reason, for_s = stats.get("out_reason"), stats.get("out_for_s")
            if isinstance(reason, str) and isinstance(for_s, int | float) and for_s > 0:
                self._marks[name] = OutMark(reason, now + float(for_s))
            else:
                self._marks.pop(name, None)

    @staticmethod
    async def _stats(limiter: object) -> dict[str, Any] | None:
        stats = getattr(limiter, "stats", None)
        if stats is None:
            return None
        try:
            return dict(await asyncio.wait_for(stats(), READ_TIMEOUT_S * 3))
        except Exception as exc:
            log.info("limiter stats unavailable: %r", exc)
            return None
