"""MiniMax client against its imitation: video create → query → retrieve, images, each error code, e2e video.

What every vendor does (auth, each error class, odd replies, deadline, re-hosting) is in
``tests/test_vendor_conformance.py``.
"""

from __future__ import annotations

import base64

import pytest

from genpulse.core.errors import (
    ContentModerated,
    InsufficientBalance,
    InvalidRequest,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState, VendorJob
from tests.vendors.common import tiny_png
from tests.vendors.harness import MINIMAX, Env, Live, live_fixture, vendor_fixtures
from tests.vendors.live import assert_assets_are_ours

PNG_URI = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()

server, env = vendor_fixtures(MINIMAX, queue_s=10, run_s=20)
live_app, live = live_fixture(MINIMAX)


async def submit(env: Env, task_type: str = "text-to-video", **params) -> VendorJob:
    return await env.submit(task_type, {"prompt": "a red panda", **params})


async def test_video_walks_through_every_status(env: Env) -> None:
    job = await submit(env)
    assert job.state is JobState.queued and job.job_id.isdigit()
    seen = []
    for step in (0, 6, 10, 20):
        env.clock.advance(step)
        polled = await env.poll("text-to-video", job.job_id)
        seen.append((polled.raw_status, polled.state))
    assert seen == [
        ("Preparing", JobState.queued),
        ("Queueing", JobState.queued),
        ("Processing", JobState.running),
        ("Success", JobState.succeeded),
    ]
    (out,) = polled.outputs
    assert out.kind == "video" and "/_files/" in out.url and out.extra["file_id"]
    async with env.client.stream("GET", out.url) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"


async def test_image_to_video_sends_a_data_uri(env: Env) -> None:
    await submit(env, "image-to-video", first_frame_image=PNG_URI, model="I2V-01")
    assert env.state.requests[-1]["first_frame_image"] == PNG_URI and env.state.requests[-1]["model"] == "I2V-01"


async def test_images_are_synchronous(env: Env) -> None:
    job = await submit(env, "text-to-image", n=2, aspect_ratio="16:9")
    assert job.state is JobState.succeeded and len(job.outputs) == 2
    assert env.state.requests[-1]["response_format"] == "url"
    env.state.outcomes.append("moderated")
    with pytest.raises(ContentModerated):
        await submit(env, "text-to-image")
    with pytest.raises(ProviderError) as info:
        await env.poll("text-to-image", job.job_id)
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        (1000, ProviderServerError, True),
        (1001, ProviderTimeout, True),
        (1002, ProviderRateLimited, True),
        (1008, InsufficientBalance, False),
        (1026, ContentModerated, False),
        (2013, ProviderInvalidInput, False),
        (2038, ProviderAuthError, False),
        ("http_502", ProviderServerError, True),
    ],
)
async def test_errors_are_mapped(env: Env, code, cls, retryable) -> None:
    env.state.errors.append(code)
    with pytest.raises(cls) as info:
        await submit(env)
    assert type(info.value) is cls and info.value.retryable is retryable


async def test_failed_job_carries_its_reason(env: Env) -> None:
    env.state.outcomes.append("fail")  # output moderation: the conformance suite
    polled = await env.finish("text-to-video", await submit(env), after_s=31)
    assert polled.state is JobState.failed and type(polled.error) is ProviderServerError


def test_params_are_strict() -> None:
    p = MINIMAX.make_provider("http://127.0.0.1:9")
    for task_type, bad in (
        ("text-to-video", {"duration": 10, "resolution": "1080P"}),
        ("text-to-video", {"model": "I2V-01"}),
        ("image-to-video", {}),
        ("image-to-video", {"first_frame_image": "http://insecure.example/a.png"}),
        ("text-to-image", {"n": 10}),
    ):
        with pytest.raises(InvalidRequest):
            p.validate(task_type, {"prompt": "x", **bad})


def test_e2e_video_is_stored_as_our_asset(live: Live) -> None:  # images: the conformance suite
    listing = {p["name"]: p for p in live.client.get("/v1/providers").json()["data"]}
    assert listing["minimax"]["configured"] is True and "text-to-video" in listing["minimax"]["task_types"]
    schema = live.client.get("/meta/schemas/minimax")
    assert schema.status_code == 200 and "properties" in schema.json()["task_types"]["text-to-video"]
    task = live.run("text-to-video", {"prompt": "a red panda"})
    assert_assets_are_ours(live.client, task, live.state.base_url, "video/mp4")
