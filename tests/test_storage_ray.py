"""Storage on the shared Ray session: the retention actor sweeps on its own; pipeline steps run as Ray tasks."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from genpulse.core.config import AppArgs
from genpulse.core.errors import InvalidRequest, NotFound
from genpulse.media.storage import LocalStorage
from genpulse.pipelines.frames import FrameSpec, prepare_frame
from genpulse.pipelines.steps import run_step
from tests.conftest import wait_for
from tests.storage.media import png


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


@pytest.mark.ray
async def test_pipeline_steps_run_as_ray_tasks(ray_serve: object) -> None:
    import ray

    assert ray.is_initialized()
    data, width, height = await run_step(prepare_frame, png(100, 50), FrameSpec(min_side=300))
    assert (width, height) == (600, 300) and data[:3] == b"\xff\xd8\xff"
    with pytest.raises(InvalidRequest, match="not a decodable image") as info:
        await run_step(prepare_frame, b"garbage", FrameSpec())
    assert info.value.details == {"field": "params.image"}
