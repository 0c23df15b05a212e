"""Group commits for actor calls: the calls a process makes in one turn of its event loop go as one RPC.

A worker driving a thousand jobs, or an ingress answering a storm of submits and polls, makes many store calls in
the same few microseconds. Each Ray actor call costs both processes a fixed price (a task spec, a round trip,
scheduling on the actor's loop) that dwarfs the work of a ``get`` or a compare-and-set ``put``. ``CallBatcher``
queues the calls made while the loop runs and sends them, at the next turn, as one ``batch`` call; the actor
runs them one after another, each exactly as if it had come alone (each keeps its own atomicity and its own
result or error), so no caller sees a different outcome. A call that comes alone goes alone, with no waiting:
the queue is flushed by ``loop.call_soon``, never by a timer.

``run_batch`` is the actor's side: it runs the listed calls of an object and returns, per call, its result or
the exception it raised (an exception is a value here, so one failed call fails only its own caller).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any

Call = tuple[str, tuple[Any, ...], dict[str, Any]]
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception it raised)

MAX_BATCH = 256  # calls per RPC: bounds the pickled size of one message and the actor's turn


class CallBatcher:
    """Sends the calls made in one event-loop turn as one RPC (``send_batch``); a lone call as itself (``send_one``).

    ``send_one(method, args, kwargs)`` and ``send_batch(calls)`` return awaitables (Ray ``ObjectRef``s or
    coroutines); a failure of the batch RPC itself (the actor is gone) is raised to every caller in it."""

    def __init__(
        self,
        send_one: Callable[[str, tuple[Any, ...], dict[str, Any]], Awaitable[Any]],
        send_batch: Callable[[list[Call]], Awaitable[list[Outcome]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._send_one, self._send_batch, self._max = send_one, send_batch, max_batch
        self._queued: list[tuple[Call, asyncio.Future[Any]]] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self.rpcs = self.calls = 0  # for tests and benchmarks: how well calls were grouped

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append(((method, args, kwargs), future))
        return await future

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), self._max):
            chunk = queued[start : start + self._max]
            self.rpcs, self.calls = self.rpcs + 1, self.calls + len(chunk)
            sent = asyncio.ensure_future(self._one(*chunk[0]) if len(chunk) == 1 else self._many(chunk))
            self._flushing.add(sent)
            sent.add_done_callback(self._flushing.discard)

    async def _one(self, call: Call, future: asyncio.Future[Any]) -> None:
        try:
            result = await self._send_one(*call)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # handed to the caller, who translates it
            _settle(future, False, exc)
        else:
            _settle(future, True, result)

    async def _many(self, chunk: list[tuple[Call, asyncio.Future[Any]]]) -> None:
        try:
            outcomes = await self._send_batch([call for call, _ in chunk])
        except asyncio.CancelledError:
            for _, future in chunk:
                future.cancel()
            raise
        except Exception as exc:  # the RPC itself failed: every call in it did
            for _, future in chunk:
                _settle(future, False, exc)
            return
        for (_, future), (ok, value) in zip(chunk, outcomes, strict=True):
            _settle(future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # its caller was cancelled meanwhile: the call still ran, nobody waits for its outcome
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def run_batch(target: object, calls: list[Call], allowed: Collection[str]) -> list[Outcome]:
    """Run ``calls`` on ``target`` in order, each as if it came alone; only methods in ``allowed``."""
    outcomes: list[Outcome] = []
    for method, args, kwargs in calls:
        try:
            if method not in allowed:
                raise ValueError(f"{method!r} cannot be batched")
            outcomes.append((True, await getattr(target, method)(*args, **kwargs)))
        except Exception as exc:  # the caller's outcome, raised again on its side
            outcomes.append((False, exc))
    return outcomes
