"""The retention actor on the shared Ray session: it sweeps expired assets on its own."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from genpulse.config import AppArgs
from genpulse.errors import NotFound
from genpulse.storage import LocalStorage
from tests.conftest import wait_for


@pytest.mark.ray
def test_the_retention_actor_deletes_expired_assets(ray_serve: object, tmp_path: Path) -> None:
    import ray

    from deployments.retention_actor import start_retention

    args = AppArgs.load(
        {
            "namespace": f"retention-{uuid.uuid4().hex[:8]}",
            "storage": {"path": str(tmp_path / "data"), "retention_days": 1e-5, "retention_interval_s": 0.2},
        }
    )
    storage = LocalStorage(tmp_path / "data")
    asset = storage.put(b"short-lived", "text/plain")
    actor = start_retention(args)
    assert actor is not None
    try:
        assert ray.get(actor.ping.remote(), timeout=60) == {"retention_days": 1e-5}

        def gone() -> bool:
            try:
                storage.get(asset.id)
            except NotFound:
                return True
            return False

        wait_for(gone, 20, 0.1, "the retention sweep")
    finally:
        ray.kill(actor)
    no_retention = args.storage.model_copy(update={"retention_days": None})
    assert start_retention(args.model_copy(update={"storage": no_retention})) is None
