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


class RunContext(Protocol):
    storage: Storage

    async def progress(self, value: float) -> None: ...

    async def checkpoint(self, provider_task_id: str | None) -> None: ...


class Runner(Protocol):
    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]: ...


Generate = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
