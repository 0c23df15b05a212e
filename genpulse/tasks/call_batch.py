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

Calls that may wait (a rate limiter's job slot) go through ``Tickets.run_batch`` instead: the calls start
together, the batch answers as soon as each has had its first step, with the outcome of every call that needed
no wait and a *ticket* for each that still waits; that caller then collects its outcome with a call of its own
(``Tickets.collect``, the batcher's ``collect``). A waiting call keeps its place in the actor's queue, and its
caller hears of it as soon as it is granted, never later because of the others in its batch.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Collection
from typing import Any

Call = tuple[str, tuple[Any, ...], dict[str, Any]]
Outcome = tuple[bool | None, Any]  # (True, result), (False, the exception it raised) or (PENDING, a ticket)
PENDING = None
TICKET_KEEP_S = 300.0  # an outcome nobody collects (its caller is gone) is dropped this long after it is known


MAX_BATCH = 256  # calls per RPC: bounds the pickled size of one message and the actor's turn


class UnknownTicket(LookupError):
    """The actor has no such ticket: it restarted (its waits are gone) or the outcome was never collected."""


class CallBatcher:
    """Sends the calls made in one event-loop turn as one RPC (``send_batch``); a lone call as itself (``send_one``).

    ``send_one(method, args, kwargs)`` and ``send_batch(calls)`` return awaitables (Ray ``ObjectRef``s or
    coroutines); a failure of the batch RPC itself (the actor is gone) is raised to every caller in it."""

    def __init__(
        self,
        send_one: Callable[[str, tuple[Any, ...], dict[str, Any]], Awaitable[Any]],
        send_batch: Callable[[list[Call]], Awaitable[list[Outcome]]],
        max_batch: int = MAX_BATCH,
        collect: Callable[[int], Awaitable[Any]] | None = None,
    ) -> None:
        """``collect(ticket)``: the outcome of a call its batch answered ``PENDING`` for (``Tickets``)."""
        self._send_one, self._send_batch, self._max, self._collect = send_one, send_batch, max_batch, collect
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
            self._start(self._one(*chunk[0]) if len(chunk) == 1 else self._many(chunk))

    async def _one(self, call: Call, future: asyncio.Future[Any]) -> None:
        await _deliver(future, self._send_one(*call))

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
        for (call, future), (ok, value) in zip(chunk, outcomes, strict=True):
            if ok is PENDING:
                self._start(self._follow(call, value, future))
            else:
                _settle(future, ok, value)

    def _start(self, work: Awaitable[None]) -> None:
        started = asyncio.ensure_future(work)
        self._flushing.add(started)
        started.add_done_callback(self._flushing.discard)

    async def _follow(self, call: Call, ticket: Any, future: asyncio.Future[Any]) -> None:
        """Collect a waiting call's outcome; a ticket the actor no longer knows (it restarted) sends the call again."""
        if future.done():  # the caller gave up: its call still holds its place in the actor, nobody waits for it
            return
        await _deliver(future, self._collected(call, ticket))

    async def _collected(self, call: Call, ticket: Any) -> Any:
        assert self._collect is not None, "a batch answered PENDING to a batcher without collect"
        try:
            return await self._collect(ticket)
        except UnknownTicket:
            return await self._send_one(*call)


async def _deliver(future: asyncio.Future[Any], outcome: Awaitable[Any]) -> None:
    """Hand ``outcome``'s result or error to the caller waiting on ``future`` (who translates the error)."""
    try:
        result = await outcome
    except asyncio.CancelledError:
        future.cancel()
        raise
    except Exception as exc:
        _settle(future, False, exc)
    else:
        _settle(future, True, result)


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


class Tickets:
    """The actor's side of batches whose calls may wait: outcomes of waiting calls, kept for their callers."""

    def __init__(self, keep_s: float = TICKET_KEEP_S) -> None:
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._numbers = itertools.count(1)
        self.keep_s = keep_s

    async def run_batch(self, target: object, calls: list[Call], allowed: Collection[str]) -> list[Outcome]:
        """Start ``calls`` on ``target`` in order; answer once each has taken its first step: the outcome of those
        that are done, a ticket for those that wait."""
        started: list[asyncio.Future[Any] | Exception] = []
        for method, args, kwargs in calls:
            if method not in allowed:
                started.append(ValueError(f"{method!r} cannot be batched"))
            else:
                started.append(asyncio.ensure_future(getattr(target, method)(*args, **kwargs)))
        await asyncio.sleep(0)  # every call's first step runs before this one resumes: one needing no wait is done
        outcomes: list[Outcome] = []
        for call in started:
            if isinstance(call, Exception):
                outcomes.append((False, call))
            elif call.done():
                outcomes.append((False, call.exception()) if call.exception() else (True, call.result()))
            else:
                outcomes.append((PENDING, self._hold(call)))
        return outcomes

    async def collect(self, ticket: int) -> Any:
        waiting = self._waiting.pop(ticket, None)
        if waiting is None:
            raise UnknownTicket(ticket)
        return await waiting

    def _hold(self, call: asyncio.Future[Any]) -> int:
        ticket = next(self._numbers)
        self._waiting[ticket] = call
        loop = asyncio.get_running_loop()

        def known(done: asyncio.Future[Any]) -> None:
            if not done.cancelled():
                done.exception()  # retrieved: an outcome nobody collects is not logged as lost
            loop.call_later(self.keep_s, self._waiting.pop, ticket, None)

        call.add_done_callback(known)
        return ticket
