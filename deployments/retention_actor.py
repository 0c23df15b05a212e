"""Retention: one named, detached actor per namespace that runs ``genpulse.media.retention.run_retention``.

Started (get-or-create) by every ingress replica when ``storage.retention_days`` is set; ``num_cpus=0``, it
waits on I/O. A restart just starts the loop again: a sweep is idempotent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from genpulse.core.config import AppArgs
from genpulse.media.retention import run_retention
from genpulse.media.storage import open_storage

ACTOR_NAME = "genpulse-retention"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class Retention:
    def __init__(self, args: AppArgs) -> None:
        self._storage, self._config = open_storage(args.storage), args.storage
        self._loop: asyncio.Task[None] | None = None
        self._ensure_loop()

    def _ensure_loop(self) -> None:
        if self._loop is None or self._loop.done():
            self._loop = asyncio.get_event_loop().create_task(run_retention(self._storage, self._config))

    async def ping(self) -> dict[str, Any]:
        self._ensure_loop()
        return {"retention_days": self._config.retention_days}


def start_retention(args: AppArgs) -> Any | None:
    """Get or create the retention actor; None when retention is off."""
    if args.storage.retention_days is None:
        return None
    return Retention.options(name=ACTOR_NAME, namespace=args.namespace, lifetime="detached", get_if_exists=True).remote(
        args
    )
