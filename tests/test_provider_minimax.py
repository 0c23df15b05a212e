"""MiniMax client against its imitation: video create → query → retrieve, images, each error class, e2e."""

from __future__ import annotations

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
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState
from genpulse.providers.vendors.minimax import MiniMaxProvider
from tests.vendors.common import Clock, tiny_png
from tests.vendors.e2e import outlive_deadline, submit_and_finish, unconfigured_submit
from tests.vendors.minimax import MiniMaxState, build_app
from tests.vendors.server import serve_asgi

KEY = "mm-test-key-0000"
PNG_URI = "data:image/png;base64," + __import__("base64").b64encode(tiny_png()).decode()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[MiniMaxState, str]]:
    state = MiniMaxState(KEY, group_id="1800000001", queue_s=10, run_s=20, clock=Clock())
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


@pytest.fixture
def state(server: tuple[MiniMaxState, str]) -> MiniMaxState:
    server[0].errors.clear()
    server[0].outcomes.clear()
    return server[0]


def provider(url: str, key: str = KEY) -> MiniMaxProvider:
    cfg = {"base_url": url, "api_key": key, "group_id": "1800000001"}
    return MiniMaxProvider(AppArgs.load({"providers": {"minimax": cfg}}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def submit(p: MiniMaxProvider, client: httpx.AsyncClient, task_type: str = "text-to-video", **params):
    return await p.submit(client, task_type, p.validate(task_type, {"prompt": "a red panda", **params}))


async def test_video_walks_through_every_status(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client)
    assert job.state is JobState.queued and job.job_id.isdigit()
    seen = []
    for step in (0, 6, 10, 20):
        state.clock.advance(step)
        polled = await p.poll(client, "text-to-video", job.job_id)
        seen.append((polled.raw_status, polled.state))
    assert seen == [
        ("Preparing", JobState.queued),
        ("Queueing", JobState.queued),
        ("Processing", JobState.running),
        ("Success", JobState.succeeded),
    ]
    (out,) = polled.outputs
    assert out.kind == "video" and "/_files/" in out.url and out.extra["file_id"]
    async with client.stream("GET", out.url) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"


async def test_image_to_video_sends_a_data_uri(server, state, client) -> None:
    await submit(provider(server[1]), client, "image-to-video", first_frame_image=PNG_URI, model="I2V-01")
    assert state.requests[-1]["first_frame_image"] == PNG_URI and state.requests[-1]["model"] == "I2V-01"


async def test_images_are_synchronous(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client, "text-to-image", n=2, aspect_ratio="16:9")
    assert job.state is JobState.succeeded and len(job.outputs) == 2
    assert state.requests[-1]["response_format"] == "url"
    state.outcomes.append("moderated")
    with pytest.raises(ContentModerated):
        await submit(p, client, "text-to-image")
    with pytest.raises(ProviderError) as info:
        await p.poll(client, "text-to-image", job.job_id)
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
async def test_errors_are_mapped(server, state, client, code, cls, retryable) -> None:
    state.errors.append(code)
    with pytest.raises(cls) as info:
        await submit(provider(server[1]), client)
    assert type(info.value) is cls and info.value.retryable is retryable


async def test_bad_key_is_an_auth_error(server, client) -> None:
    with pytest.raises(ProviderAuthError) as info:
        await submit(provider(server[1], "wrong"), client)
    assert info.value.provider_code == "1004"


@pytest.mark.parametrize(
    ("outcome", "cls"), [("fail", ProviderServerError), ("moderated", ContentModerated)]
)  # fmt: skip
async def test_failed_jobs_carry_their_reason(server, state, client, outcome, cls) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    job = await submit(p, client)
    state.clock.advance(31)
    polled = await p.poll(client, "text-to-video", job.job_id)
    assert polled.state is JobState.failed and type(polled.error) is cls


@pytest.mark.parametrize("outcome", ["unknown", "malformed"])
async def test_unknown_status_and_malformed_reply(server, state, client, outcome) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    job = await submit(p, client)
    state.clock.advance(31)
    with pytest.raises(MalformedReply):
        await p.poll(client, "text-to-video", job.job_id)


def test_params_are_strict() -> None:
    p = provider("http://127.0.0.1:9")
    for task_type, bad in (
        ("text-to-video", {"duration": 10, "resolution": "1080P"}),
        ("text-to-video", {"model": "I2V-01"}),
        ("image-to-video", {}),
        ("image-to-video", {"first_frame_image": "http://insecure.example/a.png"}),
        ("text-to-image", {"n": 10}),
    ):
        with pytest.raises(InvalidRequest):
            p.validate(task_type, {"prompt": "x", **bad})


def test_end_to_end(tmp_path: Path) -> None:
    state = MiniMaxState(KEY, queue_s=0.1, run_s=0.2)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        submit_and_finish(
            tmp_path,
            "minimax",
            {"base_url": url, "api_key": KEY},
            "text-to-video",
            {"prompt": "a red panda"},
            url,
            "video/mp4",
        )


def test_unconfigured_is_a_4xx(tmp_path: Path) -> None:
    r = unconfigured_submit(tmp_path, "minimax", "text-to-video", {"prompt": "a red panda"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"


def test_a_job_that_outlives_its_deadline_fails_with_a_timeout(tmp_path: Path) -> None:
    state = MiniMaxState(KEY, queue_s=0.1, run_s=0.2)
    state.outcomes.append("forever")
    with serve_asgi(build_app(state)) as url:
        config = {"base_url": url, "api_key": KEY}
        task = outlive_deadline(tmp_path, "minimax", config, "text-to-video", {"prompt": "x"})
    assert task["provider_task_id"] in state.jobs and task["error"]["retryable"] is False
