"""Retention sweeps on local storage and S3 (moto), with an injected clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from genpulse.core.config import StorageConfig
from genpulse.core.errors import NotFound, ServiceUnavailable
from genpulse.media.retention import DAY_S, purge_expired, run_retention
from genpulse.media.storage import Storage


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    return request.getfixturevalue(f"{request.param}_storage")


def test_purge_deletes_only_assets_past_retention(storage: Storage) -> None:
    asset = storage.put(b"data", "text/plain")
    assert purge_expired(storage, 1, now=time.time()) == 0
    storage.get(asset.id)
    assert purge_expired(storage, 1, now=time.time() + DAY_S + 10) == 1
    with pytest.raises(NotFound):
        storage.get(asset.id)
    assert purge_expired(storage, 1, now=time.time() + DAY_S + 10) == 0


class FailingOnce:
    """A storage whose first listing fails (a backend blip), wrapping a real one."""

    def __init__(self, inner: Storage) -> None:
        self.inner, self.calls = inner, 0

    def expired(self, cutoff: float) -> Iterator[str]:
        self.calls += 1
        if self.calls == 1:
            raise ServiceUnavailable("blip")
        return self.inner.expired(cutoff)

    def delete(self, asset_id: str) -> None:
        self.inner.delete(asset_id)


async def test_the_loop_survives_a_failing_sweep(local_storage: Storage) -> None:
    asset = local_storage.put(b"data", "text/plain")
    storage = FailingOnce(local_storage)
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)
        if len(sleeps) == 2:
            raise asyncio.CancelledError

    config = StorageConfig(retention_days=1, retention_interval_s=60)
    with pytest.raises(asyncio.CancelledError):
        await run_retention(storage, config, clock=lambda: time.time() + 2 * DAY_S, sleep=sleep)  # type: ignore[arg-type]
    assert sleeps == [60, 60]
    with pytest.raises(NotFound):
        local_storage.get(asset.id)


async def test_no_retention_configured_means_no_loop(local_storage: Storage) -> None:
    await asyncio.wait_for(run_retention(local_storage, StorageConfig()), 1)
