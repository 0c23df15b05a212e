"""Baidu Qianfan client against its imitation: sync images, MuseSteamer video tasks, each error class, e2e."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from genpulse.core.config import AppArgs
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
from genpulse.providers.cloud import JobState
from genpulse.providers.vendors.baidu import BaiduProvider
from tests.vendors.baidu import BaiduState, build_app
from tests.vendors.common import Clock, tiny_png
from tests.vendors.e2e import outlive_deadline, submit_and_finish, unconfigured_submit
from tests.vendors.server import serve_asgi

KEY = "bce-v3/ALTAK-test000/0000000000000000000000000000000000000000"
FIRST_FRAME = "https://images.example.com/first.png"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BaiduState, str]]:
    state = BaiduState(KEY, queue_s=10, run_s=20, clock=Clock())
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


@pytest.fixture
def state(server: tuple[BaiduState, str]) -> BaiduState:
    server[0].errors.clear()
    server[0].outcomes.clear()
    return server[0]


def provider(url: str, key: str = KEY) -> BaiduProvider:
    return BaiduProvider(AppArgs.load({"providers": {"baidu": {"base_url": url, "api_key": key}}}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def video(p: BaiduProvider, client: httpx.AsyncClient, **params):
    values = {"image": FIRST_FRAME, "prompt": "ink flows", **params}
    return await p.submit(client, "image-to-video", p.validate("image-to-video", values))


async def image(p: BaiduProvider, client: httpx.AsyncClient, **params):
    return await p.submit(client, "text-to-image", p.validate("text-to-image", {"prompt": "a puppy", **params}))


async def test_images_are_synchronous(server, state, client) -> None:
    png = base64.b64encode(tiny_png()).decode()
    job = await image(provider(server[1]), client, n=2, size="768x1024", refer_image=png)
    assert job.state is JobState.succeeded and len(job.outputs) == 2 and job.job_id.startswith("as-")
    assert state.requests[-1]["refer_image"] == f"data:image/png;base64,{png}"
    assert state.requests[-1]["size"] == "768x1024"


async def test_video_walks_through_every_status(server, state, client) -> None:
    p = provider(server[1])
    job = await video(p, client, duration=5)
    assert state.requests[-1]["content"] == [
        {"type": "text", "text": "ink flows"},
        {"type": "image_url", "image_url": {"url": FIRST_FRAME}},
    ]
    seen = []
    for step in (0, 6, 10, 20):
        state.clock.advance(step)
        polled = await p.poll(client, "image-to-video", job.job_id)
        seen.append((polled.raw_status, polled.state))
    assert seen == [
        ("pending", JobState.queued),
        ("queued", JobState.queued),
        ("running", JobState.running),
        ("succeeded", JobState.succeeded),
    ]
    assert polled.outputs[0].kind == "video" and ".mp4" in polled.outputs[0].url


async def test_cancel_before_it_runs(server, state, client) -> None:
    p = provider(server[1])
    job = await video(p, client)
    assert await p.cancel(client, "image-to-video", job.job_id) is True
    job = await video(p, client)
    state.clock.advance(15)
    assert await p.cancel(client, "image-to-video", job.job_id) is False


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
async def test_errors_are_mapped(server, state, client, code, cls, retryable) -> None:
    state.errors.append(code)
    with pytest.raises(cls) as info:
        await video(provider(server[1]), client)
    assert type(info.value) is cls and info.value.retryable is retryable and info.value.provider_code == code
    if cls is ProviderRateLimited:
        assert info.value.retry_after == 3


async def test_bad_key(server, client) -> None:
    with pytest.raises(ProviderAuthError):
        await image(provider(server[1], "bce-v3/wrong"), client)


@pytest.mark.parametrize(("outcome", "cls"), [("fail", ProviderServerError), ("moderated", ContentModerated)])
async def test_failed_tasks_carry_their_reason(server, state, client, outcome, cls) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    job = await video(p, client)
    state.clock.advance(31)
    done = await p.poll(client, "image-to-video", job.job_id)
    assert done.state is JobState.failed and type(done.error) is cls


@pytest.mark.parametrize("outcome", ["unknown", "malformed"])
async def test_unknown_status_and_malformed_replies(server, state, client, outcome) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    job = await video(p, client)
    state.clock.advance(31)
    with pytest.raises(MalformedReply):
        await p.poll(client, "image-to-video", job.job_id)
    state.outcomes.append("malformed")
    with pytest.raises(MalformedReply):
        await image(p, client)
    with pytest.raises(ProviderError):
        await p.poll(client, "text-to-image", "as-1")


def test_params_are_strict() -> None:
    p = provider("http://127.0.0.1:9")
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


def test_end_to_end(tmp_path: Path) -> None:
    state = BaiduState(KEY, queue_s=0.1, run_s=0.2)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        submit_and_finish(
            tmp_path,
            "baidu",
            {"base_url": url, "api_key": KEY},
            "image-to-video",
            {"image": FIRST_FRAME, "prompt": "ink flows"},
            url,
            "video/mp4",
        )


def test_unconfigured_is_a_4xx(tmp_path: Path) -> None:
    r = unconfigured_submit(tmp_path, "baidu", "text-to-image", {"prompt": "a puppy"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"


def test_a_job_that_outlives_its_deadline_is_deleted_at_the_vendor(tmp_path: Path) -> None:
    state = BaiduState(KEY, queue_s=60, run_s=60)
    with serve_asgi(build_app(state)) as url:
        outlive_deadline(tmp_path, "baidu", {"base_url": url, "api_key": KEY}, "image-to-video", {"image": FIRST_FRAME})
        (job,) = state.jobs.values()
        assert job.canceled
