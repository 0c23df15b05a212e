"""The runner contract: how one task of a provider is executed, once a worker has leased it.

A runner gets the task and a ``RunContext`` and returns the task's ``result`` (``{"assets": [...], ...}``),
or raises a ``GenPulseError`` (retryable or not). It reports progress and checkpoints the vendor's job id
through the context, so a resumed task continues instead of starting over. Runners hold no task state;
the provider registry (``genpulse.providers.registry``) builds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from genpulse.core.schemas import Task
from genpulse.media.storage import Storage


class LeaseLost(Exception):
    """The task is no longer this worker's (another owner leased it, or it ended): stop touching it."""


class RunContext(Protocol):
    """What a runner may do to its task. Each write is refused with ``LeaseLost`` once the task is not ours.

    ``owner`` names the worker; ``slot_owner`` names this run of it (a restarted worker has the same ``owner``
    and a new ``slot_owner``: limiter waits of its earlier run are withdrawn when it adopts their tasks);
    ``abandoned`` turns true when the task was taken over by another owner (the runner is then cancelled and
    must leave the vendor job alone: the new owner polls it); a cancelled runner whose vendor cancel got no sure
    answer sets ``cancel_owed`` (the record keeps its owner, and the cancel sweep tries again)."""

    storage: Storage
    owner: str
    slot_owner: str
    abandoned: bool
    cancel_owed: bool

    async def progress(self, value: float) -> None: ...

    async def submitting(self) -> None:
        """Record "a submit is in flight" before the vendor hears of it (cleared by ``checkpoint``)."""

    async def checkpoint(self, provider_task_id: str | None) -> None:
        """Record the vendor's job id (None: there is none); clears the submit-in-flight mark."""


class Runner(Protocol):
    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]: ...

    async def cancel_job(self, task: Task) -> bool:
        """Cancel the outside job of a task nobody runs any more (its worker was down when it was canceled);
        False when there is none to cancel."""
        ...

    def wake(self, task_id: str) -> bool:
        """A vendor callback for ``task_id``: look at its outside job now. False when this runner has no poll
        loop to wake (or none for that task yet)."""
        ...


Generate = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
