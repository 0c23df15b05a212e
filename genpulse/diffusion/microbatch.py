"""MicroBatcher: gathers concurrent ``submit`` calls into lists for one batch function, one batch at a time.

The first item of a batch waits at most ``wait_s`` for company, a batch holds at most ``max_size`` items, and
items that arrive while a batch runs form the next one (so batches fill up exactly when the replica is busy).
Plain asyncio, used by the Serve deployment and testable without Ray (``@serve.batch`` needs a live replica
context). A caller that is cancelled before its batch starts is left out of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], max_size: int, wait_s: float) -> None:
        self._run, self.max_size, self.wait_s = run, max_size, wait_s
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_size and self.wait_s > 0:
                deadline = asyncio.get_running_loop().time() + self.wait_s
                while len(self._pending) < self.max_size:
                    self._arrived.clear()
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), left)
            taken, self._pending = self._pending[: self.max_size], self._pending[self.max_size :]
            live = [(item, fut) for item, fut in taken if not fut.done()]
            if not live:
                continue
            try:
                results = await self._run([item for item, _ in live])
            except Exception as exc:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
