"""Retention: delete assets older than ``storage.retention_days`` (off when unset).

``purge_expired`` is one sweep: it deletes every asset created before ``now - retention_days`` and returns how
many it deleted. ``run_retention`` repeats it every ``retention_interval_s`` for as long as it is awaited
(``deployments/retention_actor.py`` hosts it in one named detached actor per cluster). A failing sweep is
logged and tried again next round. Tasks keep their result records; the content of an expired asset answers
404. On S3 a bucket lifecycle rule on ``{prefix}assets/`` does the same job without a sweeper.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from genpulse.core.config import StorageConfig
from genpulse.media.storage import Storage

log = logging.getLogger("genpulse.media.retention")
DAY_S = 86_400.0


def purge_expired(storage: Storage, retention_days: float, *, now: float | None = None) -> int:
    cutoff = (time.time() if now is None else now) - retention_days * DAY_S
    expired = list(storage.expired(cutoff))
    for asset_id in expired:
        storage.delete(asset_id)
    return len(expired)


async def run_retention(
    storage: Storage,
    config: StorageConfig,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    if config.retention_days is None:
        return
    while True:
        try:
            deleted = await asyncio.to_thread(purge_expired, storage, config.retention_days, now=clock())
            if deleted:
                log.info("retention: deleted %d assets older than %s days", deleted, config.retention_days)
        except Exception:
            log.warning("retention sweep failed", exc_info=True)
        await sleep(config.retention_interval_s)
