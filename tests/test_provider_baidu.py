"""Baidu Qianfan client against its imitation: sync images, MuseSteamer video tasks, each error code, e2e video.

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
    MalformedReply,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
)
from genpulse.providers.cloud import JobState, VendorJob
from tests.vendors.common import tiny_png
from tests.vendors.harness import BAIDU, Env, Live, live_fixture, vendor_fixtures
from tests.vendors.live import assert_assets_are_ours

FIRST_FRAME = "https://images.example.com/first.png"

server, env = vendor_fixtures(BAIDU, queue_s=10, run_s=20)
live_app, live = live_fixture(BAIDU)


async def video(env: Env, **params) -> VendorJob:
    return await env.submit("image-to-video", {"image": FIRST_FRAME, "prompt": "ink flows", **params})


async def image(env: Env, **params) -> VendorJob:
    return await env.submit("text-to-image", {"prompt": "a puppy", **params})


async def test_images_are_synchronous(env: Env) -> None:
    png = base64.b64encode(tiny_png()).decode()
    job = await image(env, n=2, size="768x1024", refer_image=png)
    assert job.state is JobState.succeeded and len(job.outputs) == 2 and job.job_id.startswith("as-")
    assert env.state.requests[-1]["refer_image"] == f"data:image/png;base64,{png}"
    assert env.state.requests[-1]["size"] == "768x1024"


async def test_video_walks_through_every_status(env: Env) -> None:
    job = await video(env, duration=5)
    assert env.state.requests[-1]["content"] == [
        {"type": "text", "text": "ink flows"},
        {"type": "image_url", "image_url": {"url": FIRST_FRAME}},
    ]
    seen = []
    for step in (0, 6, 10, 20):
        env.clock.advance(step)
        polled = await env.poll("image-to-video", job.job_id)
        seen.append((polled.raw_status, polled.state))
    assert seen == [
        ("pending", JobState.queued),
        ("queued", JobState.queued),
        ("running", JobState.running),
        ("succeeded", JobState.succeeded),
    ]
    assert polled.outputs[0].kind == "video" and ".mp4" in polled.outputs[0].url


async def test_cancel_before_it_runs(env: Env) -> None:
    job = await video(env)
    assert await env.provider.cancel(env.client, "image-to-video", job.job_id) is True
    job = await video(env)
    env.clock.advance(15)
    assert await env.provider.cancel(env.client, "image-to-video", job.job_id) is False


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("malformed_json", ProviderInvalidInput, False),
        ("invalid_model", ProviderInvalidInput, False),
        ("image_url_unsafe", ContentModerated, False),
        ("prompt_unsafe", ContentModerated, False),
        ("no_permission", ProviderAuthError, False),
        ("account_arrears", InsufficientBalance, False),
        ("rpm_rate_limit_exceeded", ProviderRateLimited, True),
        ("tpm_rate_limit_exceeded", ProviderRateLimited, True),
        ("internal_error", ProviderServerError, True),
    ],
)
async def test_errors_are_mapped(env: Env, code, cls, retryable) -> None:
    env.state.errors.append(code)
    with pytest.raises(cls) as info:
        await video(env)
    assert type(info.value) is cls and info.value.retryable is retryable and info.value.provider_code == code
    if cls is ProviderRateLimited:
        assert info.value.retry_after == 3


async def test_failed_task_carries_its_reason(env: Env) -> None:
    env.state.outcomes.append("fail")  # output moderation: the conformance suite
    done = await env.finish("image-to-video", await video(env), after_s=31)
    assert done.state is JobState.failed and type(done.error) is ProviderServerError


async def test_image_reply_without_data_and_a_synchronous_job_polled(env: Env) -> None:
    env.state.outcomes.append("malformed")  # a video task without its fields: the conformance suite
    with pytest.raises(MalformedReply):
        await image(env)
    with pytest.raises(ProviderError):
        await env.poll("text-to-image", "as-1")


def test_params_are_strict() -> None:
    p = BAIDU.make_provider("http://127.0.0.1:9")
    for task_type, bad in (
        ("text-to-image", {"size": "4096x4096"}),
        ("text-to-image", {"n": 5}),
        ("text-to-image", {"model": "dall-e-3"}),
        ("image-to-video", {"model": "kling-v1"}),
        ("image-to-video", {"image": None}),
    ):
        with pytest.raises(InvalidRequest):
            p.validate(task_type, {"prompt": "x", "image": FIRST_FRAME, **bad} if task_type == "image-to-video"
                       else {"prompt": "x", **bad})  # fmt: skip


def test_e2e_video_is_stored_as_our_asset(live: Live) -> None:  # images: the conformance suite
    listing = {p["name"]: p for p in live.client.get("/v1/providers").json()["data"]}
    assert listing["baidu"]["configured"] is True and "image-to-video" in listing["baidu"]["task_types"]
    schema = live.client.get("/meta/schemas/baidu")
    assert schema.status_code == 200 and "properties" in schema.json()["task_types"]["image-to-video"]
    task = live.run("image-to-video", {"image": FIRST_FRAME, "prompt": "ink flows"})
    assert_assets_are_ours(live.client, task, live.state.base_url, "video/mp4")
