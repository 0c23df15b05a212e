"""Pipelines end to end in-process: image-to-video over the Kling imitation, on local storage and S3 (moto)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from genpulse.api.app import create_api
from genpulse.core.config import AppArgs, StorageConfig
from genpulse.core.errors import InvalidRequest
from genpulse.core.schemas import Task, TaskRequest, TaskStatus
from genpulse.media.storage import Storage
from genpulse.pipelines.frames import FrameSpec, prepare_frame
from genpulse.wiring.in_process import LocalRuntime, build_local
from tests.storage.media import png
from tests.vendors.common import FAKE_MP4
from tests.vendors.kling import KlingState, build_app
from tests.vendors.server import serve_asgi

AK, SK = "ak-pipeline", "sk-pipeline-00000000000000000000"
FRAME = png(640, 360)


@pytest.fixture
def kling() -> Iterator[KlingState]:
    state = KlingState({AK: SK}, queue_s=0.05, run_s=0.1)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state


@pytest.fixture(params=["local", "s3"])
def storage_args(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "local":
        return {"path": str(tmp_path / "data")}
    config: StorageConfig = request.getfixturevalue("s3_config")
    return config.model_dump(include={"type", "bucket", "region", "endpoint_url", "prefix"})


def runtime(kling: KlingState, storage: dict[str, Any]) -> LocalRuntime:
    return build_local(
        AppArgs.load(
            {
                "storage": storage,
                "workers": {"backoff_base_s": 0.05, "backoff_max_s": 0.2},
                "providers": {"kling": {"base_url": kling.base_url, "access_key": AK, "secret_key": SK}},
            }
        )
    )


async def run(rt: LocalRuntime, params: dict[str, Any], task_type: str = "image-to-video") -> Task:
    task, _ = await rt.service.submit(TaskRequest(provider="pipeline", task_type=task_type, params=params))
    return await rt.service.get(task.id, wait=30)


def download(client: TestClient, url: str) -> bytes:
    response = client.get(url, follow_redirects=False)
    if response.status_code == 307:  # S3: a presigned URL, fetched with plain httpx
        return httpx.get(response.headers["location"]).content
    assert response.status_code == 200
    return response.content


async def test_image_to_video_on_local_and_s3(kling: KlingState, storage_args: dict[str, Any]) -> None:
    rt = runtime(kling, storage_args)
    storage = rt.service.storage
    upload = storage.put(FRAME, "image/png")
    done = await run(rt, {"image": upload.id, "prompt": "waves roll in", "video_params": {"duration": 5}})
    assert done.status == TaskStatus.succeeded, done.error

    video, poster = done.result["assets"]
    assert (video["content_type"], poster["content_type"]) == ("video/mp4", "image/jpeg")
    assert done.result["poster"] == poster
    assert [s["name"] for s in done.result["steps"]] == ["frame", "video"]
    assert done.provider_task_id == poster["id"]  # the frame is the pipeline's checkpoint

    api = create_api()
    api.state.service = rt.service
    with TestClient(api) as client:
        assert download(client, video["url"]) == FAKE_MP4 == storage.read(video["id"])
        assert download(client, poster["url"]) == storage.read(poster["id"])
    with Image.open(io.BytesIO(storage.read(poster["id"]))) as img:
        assert img.size == (640, 360)

    (sent,) = [r["body"] for r in kling.requests]
    assert sent["duration"] == "5" and sent["prompt"] == "waves roll in"
    child = await rt.service.store.get(done.result["steps"][1]["task_id"])
    assert child.metadata == {"parent": done.id, "step": "video"} and child.params["image"] == poster["id"]
    assert kling.base_url not in json.dumps(done.model_dump(mode="json"))


async def test_a_step_that_fails_once_is_retried(kling: KlingState, local_storage: Storage, tmp_path: Path) -> None:
    rt = runtime(kling, {"path": str(tmp_path / "data")})
    kling.errors.append("5000")  # the video step's first submit meets a vendor server error (a refusal)
    upload = rt.service.storage.put(FRAME, "image/png")
    done = await run(rt, {"image": upload.id})
    assert done.status == TaskStatus.succeeded, done.error
    child = await rt.service.store.get(done.result["steps"][-1]["task_id"])
    # the vendor refused it in its own envelope, so no job existed: retried in place, not as a new attempt
    assert not kling.errors and child.attempts == 1 and done.attempts == 1
    assert len([r for r in kling.requests if r["path"] == "videos/image2video"]) == 1


async def test_a_failed_step_fails_the_pipeline(kling: KlingState, tmp_path: Path) -> None:
    rt = runtime(kling, {"path": str(tmp_path / "data")})
    kling.outcomes.append("moderated")
    upload = rt.service.storage.put(FRAME, "image/png")
    done = await run(rt, {"image": upload.id})
    assert done.status == TaskStatus.failed
    assert done.error is not None and done.error.type == "content_moderated" and not done.error.retryable
    assert done.error.message.startswith("video step tsk_")


async def test_a_resumed_pipeline_reuses_its_steps(kling: KlingState, tmp_path: Path) -> None:
    rt = runtime(kling, {"path": str(tmp_path / "data")})
    upload = rt.service.storage.put(FRAME, "image/png")
    done = await run(rt, {"image": upload.id})
    assert done.status == TaskStatus.succeeded

    class Ctx:
        storage = rt.service.storage

        async def progress(self, value: float) -> None:
            pass

        async def checkpoint(self, provider_task_id: str | None) -> None:
            raise AssertionError("a resumed pipeline must not prepare another frame")

    again = await rt.workers["pipeline"][0].runner.run(done, Ctx())
    assert again["assets"] == done.result["assets"]
    assert len(kling.requests) == 1  # the vendor was called once


async def test_steps_are_validated_at_submit(kling: KlingState, tmp_path: Path) -> None:
    rt = runtime(kling, {"path": str(tmp_path / "data")})
    image = "ast_" + "1" * 24
    for params, match in [
        ({"image": image, "video_provider": "nope"}, "unknown provider"),
        ({"image": image, "video_provider": "pipeline"}, "cannot be a pipeline"),
        ({"image": image, "video_params": {"duration": 7}}, "video step"),
        ({"image": "ftp://x"}, "image"),
        ({"image": image, "video_provider": "minimax"}, "video step: provider 'minimax' is not configured"),
    ]:
        with pytest.raises(InvalidRequest, match=match):
            await rt.service.submit(TaskRequest(provider="pipeline", task_type="image-to-video", params=params))
    assert kling.requests == []


async def test_an_input_that_is_not_an_image_fails_before_the_vendor(kling: KlingState, tmp_path: Path) -> None:
    rt = runtime(kling, {"path": str(tmp_path / "data")})
    done = await run(rt, {"image": "data:image/png;base64,aGVsbG8gd29ybGQ="})
    assert done.status == TaskStatus.failed and done.error is not None
    assert done.error.type == "invalid_request" and "params.image" in done.error.message
    assert kling.requests == []


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1000, 100), (750, 300)), ((100, 100), (300, 300)), ((2000, 1000), (1024, 512)), ((400, 300), (400, 300))],
)
def test_frames_are_fitted_to_the_vendor(size: tuple[int, int], expected: tuple[int, int]) -> None:
    data, width, height = prepare_frame(png(*size), FrameSpec(min_side=300, max_side=1024, max_ratio=2.5))
    assert (width, height) == expected
    with Image.open(io.BytesIO(data)) as img:
        assert (img.format, img.size) == ("JPEG", expected)


def test_a_corrupt_image_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="not a decodable image"):
        prepare_frame(png()[:40], FrameSpec())


async def test_text_to_image_to_video_chains_two_steps(kling: KlingState, tmp_path: Path) -> None:
    rt = runtime(kling, {"path": str(tmp_path / "data")})
    params = {"prompt": "a lighthouse", "image_provider": "kling", "video_params": {"mode": "std"}}
    done = await run(rt, params, "text-to-image-to-video")
    assert done.status == TaskStatus.succeeded, done.error
    image_step, frame_step, video_step = done.result["steps"]
    assert [image_step["name"], frame_step["name"], video_step["name"]] == ["image", "frame", "video"]
    assert image_step["provider"] == "kling" and image_step["assets"][0]["content_type"] == "image/png"
    assert frame_step["assets"][0]["width"] == 300  # the vendor's 8 px image, fitted to Kling's 300 px minimum
    assert [r["path"] for r in kling.requests] == ["images/generations", "videos/image2video"]
    assert all(r["body"]["prompt"] == "a lighthouse" for r in kling.requests)
    assert rt.service.storage.read(done.result["assets"][0]["id"]) == FAKE_MP4
