"""A Kling image-to-video task whose first frame is one of our assets, on local storage and on S3 (moto):
the vendor gets a URL it can fetch (S3) or the bytes (local); the output is re-hosted; no vendor URL remains."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.config import AppArgs, StorageConfig
from genpulse.core.errors import InvalidRequest
from genpulse.core.schemas import TaskRequest, TaskStatus
from genpulse.wiring.in_process import build_local
from tests.storage.media import png
from tests.vendors.common import FAKE_MP4
from tests.vendors.kling import KlingState, build_app
from tests.vendors.server import serve_asgi

AK, SK = "ak-assets", "sk-assets-0000000000000000000000"
FRAME = png(16, 9)


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


async def test_an_asset_id_drives_image_to_video(kling: KlingState, storage_args: dict[str, Any]) -> None:
    args = AppArgs.load(
        {
            "storage": storage_args,
            "providers": {"kling": {"base_url": kling.base_url, "access_key": AK, "secret_key": SK}},
        }
    )
    rt = build_local(args)
    storage = rt.service.storage
    frame = storage.put(FRAME, "image/png")
    request = TaskRequest(
        provider="kling", task_type="image-to-video", params={"image": frame.id, "prompt": "the leaves move"}
    )
    task, _ = await rt.service.submit(request)
    done = await rt.service.get(task.id, wait=30)
    assert done.status == TaskStatus.succeeded, done.error

    sent = kling.requests[-1]["body"]["image"]
    if args.storage.type == "s3":
        assert "X-Amz-Signature=" in sent
        assert httpx.get(sent).content == FRAME  # the vendor can fetch exactly our bytes
    else:
        assert base64.b64decode(sent) == FRAME
    assert done.params["image"] == frame.id  # the task keeps the reference, not a presigned URL

    (video,) = done.result["assets"]
    assert video["url"] == f"/v1/assets/{video['id']}/content"
    assert (video["content_type"], storage.read(video["id"])) == ("video/mp4", FAKE_MP4)
    assert kling.base_url not in json.dumps(done.model_dump(mode="json"))


async def test_an_unknown_asset_is_refused_at_submit_without_a_vendor_call(
    kling: KlingState, storage_args: dict[str, Any]
) -> None:
    args = AppArgs.load(
        {
            "storage": storage_args,
            "providers": {"kling": {"base_url": kling.base_url, "access_key": AK, "secret_key": SK}},
        }
    )
    rt = build_local(args)
    request = TaskRequest(
        provider="kling", task_type="image-to-video", params={"image": "ast_" + "0" * 24, "prompt": "nothing"}
    )
    with pytest.raises(InvalidRequest, match="unknown asset") as refused:  # at submit: nothing is stored or run
        await rt.service.submit(request)
    assert refused.value.details == {"field": "params", "asset": "ast_" + "0" * 24}
    assert kling.requests == []
