"""The OpenAI-compatible routes driven by the official `openai` SDK against the real HTTP app (in-process, no Ray):
model aliases (built-in and from `GENPULSE_MODELS`), images (url, b64_json, n, edits), videos (create, retrieve,
content, list, delete), and errors in OpenAI's shape as the SDK's exception types."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from genpulse.core.errors import ExecutionError
from tests.harness import RunningApp, local_args, running_app
from tests.results_app import png

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64  # stands in for the replica's MP4
CALLS: list[dict[str, Any]] = []
ALIASES = {
    "sketch": {"provider": "diffusers", "task_type": "text-to-image", "params": {"model": "tiny", "seed": 5}},
    "kling-image": {"provider": "kling", "task_type": "text-to-image"},  # not configured: not listed
}


async def fake_generate(params: dict[str, Any]) -> dict[str, Any]:
    """Stands in for the diffusion replica: ``boom`` fails, ``slow`` outlasts the wait; videos are an MP4 + poster."""
    CALLS.append(params)
    if params["prompt"] == "boom":
        raise ExecutionError("boom", retryable=False)
    if params["prompt"] == "slow":
        await asyncio.sleep(5)
    if params["task_type"].endswith("-video"):
        return {"videos": [MP4], "posters": [png(params["width"], params["height"], 2)], "seed": 1}
    return {"images": [png(params["width"], params["height"], 1)] * params.get("num_images", 1), "seed": 1}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GENPULSE_MODELS", json.dumps(ALIASES))
        args = local_args(tmp_path_factory.mktemp("openai"), server={"max_wait_s": 2})
    with running_app(args, generate=fake_generate) as running:
        yield running


def client(app: RunningApp, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app.url}/v1", api_key=key, max_retries=0, timeout=30)


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_models_lists_builtin_and_configured_aliases(app: RunningApp) -> None:
    c = client(app)
    models = {m.id: m for m in c.models.list()}
    assert set(models) == {"sketch", "tiny", "tiny-video"}  # kling is not configured
    assert models["tiny"].owned_by == "diffusers" and models["tiny"].object == "model"
    assert c.models.retrieve("sketch").id == "sketch"
    with pytest.raises(openai.NotFoundError) as err:
        c.models.retrieve("kling-image")
    assert err.value.code == "model_not_found"


def test_images_generate_urls_and_b64(app: RunningApp) -> None:
    c = client(app)
    out = c.images.generate(model="tiny", prompt="a fox", n=2, size="72x64")
    assert len(out.data) == 2 and out.created > 0
    for item in out.data:
        assert item.url and item.url.startswith(f"{app.url}/v1/assets/") and item.b64_json is None
        assert image_size(httpx.get(item.url).content) == (72, 64)
    out = c.images.generate(model="sketch", prompt="a fox", size="80x64", response_format="b64_json")
    assert len(out.data) == 1 and image_size(base64.b64decode(out.data[0].b64_json or "")) == (80, 64)
    assert CALLS[-1]["seed"] == 5 and CALLS[-1]["model"] == "tiny"  # the alias's default params
    newest = httpx.get(f"{app.url}/v1/tasks", params={"limit": 1}).json()["data"][0]
    assert newest["metadata"]["openai"]["model"] == "sketch"


def test_errors_in_openai_shape(app: RunningApp) -> None:
    c = client(app)
    with pytest.raises(openai.NotFoundError) as nf:
        c.images.generate(model="dall-e-3", prompt="a fox")
    assert nf.value.code == "model_not_found" and nf.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.generate(model="tiny", prompt="a fox", extra_body={"background": "transparent", "moderation": "low"})
    assert bad.value.code == "unsupported_parameter" and "background, moderation" in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.generate(model="tiny", prompt="a fox", quality="hd")
    assert bad.value.param == "quality" and "does not support: quality" in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.generate(model="tiny", prompt="a fox", size="huge")
    assert bad.value.param == "size"
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.generate(model="tiny", prompt="a fox", size="4096x4096")  # the provider's own limits: 400
    assert bad.value.code == "invalid_request" and "width" in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.generate(model="tiny-video", prompt="a fox")
    assert bad.value.code == "unsupported_model"
    with pytest.raises(openai.InternalServerError) as failed:
        c.images.generate(model="tiny", prompt="boom")
    assert failed.value.response.headers["x-should-retry"] == "false"
    raw = httpx.post(f"{app.url}/v1/images/generations", json={"model": "nope", "prompt": "x"}).json()
    assert set(raw["error"]) == {"message", "type", "param", "code"} and raw["error"]["type"] == "invalid_request_error"
    assert httpx.get(f"{app.url}/v1/tasks/nope").json()["error"]["type"] == "not_found"  # the rest keeps its envelope


def test_a_generation_that_outlasts_the_wait_names_its_task(app: RunningApp) -> None:
    sdk = openai.OpenAI(base_url=f"{app.url}/v1", api_key="x", timeout=30)  # retries 5xx by default
    with pytest.raises(openai.APIStatusError) as err:
        sdk.images.generate(model="tiny", prompt="slow")
    assert err.value.status_code == 504 and err.value.code == "task_timeout"
    slow = [t for t in httpx.get(f"{app.url}/v1/tasks").json()["data"] if t["params"]["prompt"] == "slow"]
    assert len(slow) == 1 and slow[0]["id"] in err.value.message  # x-should-retry: false, so one job


def test_images_edit(app: RunningApp) -> None:
    c = client(app)
    out = c.images.edit(
        model="tiny", image=("in.png", png(40, 40, 3), "image/png"), prompt="make it blue", size="64x64",
        response_format="b64_json",
    )  # fmt: skip
    assert image_size(base64.b64decode(out.data[0].b64_json or "")) == (64, 64)
    assert CALLS[-1]["task_type"] == "image-to-image" and str(CALLS[-1]["image"]).startswith("data:image/png")
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.edit(model="tiny", image=("in.txt", b"not an image", "text/plain"), prompt="x")
    assert bad.value.param == "image"
    with pytest.raises(openai.BadRequestError) as bad:
        c.images.edit(model="tiny", image=("in.png", png(8, 8, 1), "image/png"), prompt="x", mask=b"\x89PNG")
    assert bad.value.code == "unsupported_parameter" and bad.value.param == "mask"


def test_bodies_over_the_limit_are_413_in_openai_shape(app: RunningApp) -> None:
    """`server.max_body_bytes` (1 MiB here): with or without a Content-Length, on the OpenAI routes the 413 is
    OpenAI's error, as their other errors are; the rest of the API keeps its own envelope."""
    big = png(8, 8, 1) + b"\0" * (1 << 20)
    with pytest.raises(openai.APIStatusError) as err:
        client(app).images.edit(model="tiny", image=("big.png", big, "image/png"), prompt="x")
    assert err.value.status_code == 413 and err.value.code == "payload_too_large"
    assert err.value.type == "invalid_request_error" and err.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(openai.APIStatusError) as err:
        client(app).videos.create(model="tiny-video", prompt="x", input_reference=("big.png", big, "image/png"))
    assert err.value.status_code == 413 and err.value.code == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it is read
        yield b'{"model": "tiny", "prompt": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    for path in ("/v1/images/generations", "/v1/videos"):
        r = httpx.post(f"{app.url}{path}", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.json()["error"] == {"message": "request body exceeds 1048576 bytes", "type": "invalid_request_error",
                                     "param": None, "code": "payload_too_large"}  # fmt: skip
    r = httpx.post(f"{app.url}/v1/tasks", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"


def test_videos(app: RunningApp) -> None:
    c = client(app)
    video = c.videos.create(model="tiny-video", prompt="waves", seconds="4", size="64x64")  # type: ignore[arg-type]
    assert video.status in ("queued", "in_progress", "completed") and video.object == "video"
    deadline = time.monotonic() + 20
    while (video := c.videos.retrieve(video.id)).status != "completed":
        assert video.status != "failed" and time.monotonic() < deadline, video
        time.sleep(0.05)
    assert (video.model, video.seconds, video.size, video.progress) == ("tiny-video", "4", "64x64", 100)
    assert CALLS[-1]["num_frames"] == 32  # 4 s at diffusion.fps (8)
    assert c.videos.download_content(video.id).content == MP4
    assert image_size(c.videos.download_content(video.id, variant="thumbnail").content) == (64, 64)
    assert httpx.get(f"{app.url}/v1/tasks/{video.id}").json()["status"] == "succeeded"  # the same task
    started = c.videos.create(
        model="tiny-video", prompt="from a still", input_reference=("first.png", png(64, 64, 4), "image/png")
    )
    assert httpx.get(f"{app.url}/v1/tasks/{started.id}").json()["task_type"] == "image-to-video"
    still = "data:image/png;base64," + base64.b64encode(png(64, 64, 5)).decode()
    as_json = {"model": "tiny-video", "prompt": "json", "size": "64x64", "input_reference": {"image_url": still}}
    from_json = httpx.post(f"{app.url}/v1/videos", json=as_json).json()
    assert httpx.get(f"{app.url}/v1/tasks/{from_json['id']}").json()["task_type"] == "image-to-video"
    assert [v.id for v in c.videos.list()] == [from_json["id"], started.id, video.id]
    assert [v.id for v in c.videos.list(after=started.id)] == [video.id]
    assert [v.id for v in c.videos.list(limit=1)] == [from_json["id"], started.id, video.id]  # the SDK pages on
    deleted = c.videos.delete(video.id)
    assert deleted.deleted and deleted.id == video.id
    with pytest.raises(openai.NotFoundError):
        c.videos.download_content(video.id)
    with pytest.raises(openai.NotFoundError):
        c.videos.retrieve("tsk_000000000000000000000000")
    with pytest.raises(openai.BadRequestError) as bad:
        c.videos.create(model="tiny", prompt="x")
    assert bad.value.code == "unsupported_model"


def test_keys_and_scopes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENPULSE_MODELS", raising=False)
    admin_key = "admin-key-for-the-openai-tests"
    args = local_args(tmp_path, auth={"mode": "keys", "admin_key": admin_key})
    with running_app(args, generate=fake_generate) as app:
        admin = httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {admin_key}"})
        tenant = admin.post("/v1/admin/tenants", json={"name": "t", "credits": 10}).json()
        scoped = {"scopes": {"task_types": ["text-to-image"]}}
        key = admin.post(f"/v1/admin/tenants/{tenant['id']}/keys", json=scoped).json()["key"]
        assert [m.id for m in client(app, key).models.list()] == ["tiny"]
        with pytest.raises(openai.NotFoundError):
            client(app, key).videos.create(model="tiny-video", prompt="x")
        with pytest.raises(openai.AuthenticationError) as err:
            client(app, "gp_not-a-key").models.list()
        assert err.value.type == "authentication_error"
