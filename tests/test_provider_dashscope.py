"""DashScope (Wan) client against its imitation: async create + task query, cancel, each error class, e2e."""

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
from genpulse.providers.vendors.dashscope import DashScopeProvider
from tests.vendors.common import Clock, tiny_png
from tests.vendors.dashscope import DashScopeState, build_app
from tests.vendors.e2e import outlive_deadline, submit_and_finish, unconfigured_submit
from tests.vendors.server import serve_asgi

KEY = "sk-test-dashscope-0000"
PNG_B64 = base64.b64encode(tiny_png()).decode()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[DashScopeState, str]]:
    state = DashScopeState(KEY, queue_s=10, run_s=20, clock=Clock())
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


@pytest.fixture
def state(server: tuple[DashScopeState, str]) -> DashScopeState:
    server[0].errors.clear()
    server[0].outcomes.clear()
    return server[0]


def provider(url: str, key: str = KEY) -> DashScopeProvider:
    return DashScopeProvider(AppArgs.load({"providers": {"dashscope": {"base_url": url, "api_key": key}}}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def submit(p: DashScopeProvider, client: httpx.AsyncClient, task_type: str = "text-to-image", **params):
    base = {} if task_type == "image-to-video" else {"prompt": "a flower shop"}
    return await p.submit(client, task_type, p.validate(task_type, {**base, **params}))


async def finish(p: DashScopeProvider, client: httpx.AsyncClient, state: DashScopeState, job, task_type: str):
    state.clock.advance(31)
    return await p.poll(client, task_type, job.job_id)


async def test_image_task_walks_through_every_status(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client, n=2, size="1280x720", negative_prompt="people", seed=42)
    assert job.state is JobState.queued and len(job.job_id) == 36
    assert state.requests[-1] == {
        "model": "wanx2.1-t2i-turbo",
        "input": {"prompt": "a flower shop", "negative_prompt": "people"},
        "parameters": {"seed": 42, "prompt_extend": True, "watermark": False, "size": "1280*720", "n": 2},
    }
    states = []
    for step in (0, 10, 20):
        state.clock.advance(step)
        states.append((await p.poll(client, "text-to-image", job.job_id)).raw_status)
    assert states == ["PENDING", "RUNNING", "SUCCEEDED"]
    done = await p.poll(client, "text-to-image", job.job_id)
    assert done.state is JobState.succeeded and [o.kind for o in done.outputs] == ["image", "image"]


async def test_videos_and_a_partly_moderated_image_task(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client, "image-to-video", img_url=PNG_B64, resolution="480P")
    assert state.requests[-1]["input"] == {"img_url": f"data:image/png;base64,{PNG_B64}"}
    done = await finish(p, client, state, job, "image-to-video")
    assert [o.kind for o in done.outputs] == ["video"] and done.outputs[0].url.split("?")[0].endswith(".mp4")
    state.outcomes.append("partial")
    job = await submit(p, client, n=3)
    done = await finish(p, client, state, job, "text-to-image")
    assert done.state is JobState.succeeded and len(done.outputs) == 2


async def test_cancel_while_pending_only(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client, "text-to-video")
    assert await p.cancel(client, "text-to-video", job.job_id) is True
    assert (await p.poll(client, "text-to-video", job.job_id)).state is JobState.canceled
    job = await submit(p, client, "text-to-video")
    state.clock.advance(15)
    assert await p.cancel(client, "text-to-video", job.job_id) is False


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("InvalidParameter", ProviderInvalidInput, False),
        ("DataInspectionFailed", ContentModerated, False),
        ("IPInfringementSuspect", ContentModerated, False),
        ("Arrearage", InsufficientBalance, False),
        ("AccessDenied", ProviderAuthError, False),
        ("ModelNotFound", ProviderInvalidInput, False),
        ("Throttling", ProviderRateLimited, True),
        ("Throttling.RateQuota", ProviderRateLimited, True),
        ("Throttling.AllocationQuota", InsufficientBalance, False),
        ("InternalError", ProviderServerError, True),
    ],
)
async def test_errors_are_mapped(server, state, client, code, cls, retryable) -> None:
    state.errors.append(code)
    with pytest.raises(cls) as info:
        await submit(provider(server[1]), client)
    assert type(info.value) is cls and info.value.retryable is retryable and info.value.provider_code == code


async def test_bad_key(server, client) -> None:
    with pytest.raises(ProviderAuthError):
        await submit(provider(server[1], "sk-wrong"), client)


@pytest.mark.parametrize(
    ("outcome", "cls"),
    [("fail", ProviderServerError), ("moderated", ContentModerated), ("expired", ProviderError)],
)
async def test_failed_tasks_carry_their_reason(server, state, client, outcome, cls) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    done = await finish(p, client, state, await submit(p, client), "text-to-image")
    assert done.state is JobState.failed and type(done.error) is cls


@pytest.mark.parametrize("outcome", ["unknown", "malformed"])
async def test_unknown_status_and_malformed_reply(server, state, client, outcome) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    job = await submit(p, client)
    with pytest.raises(MalformedReply):
        await finish(p, client, state, job, "text-to-image")


def test_params_are_strict() -> None:
    p = provider("http://127.0.0.1:9")
    for task_type, bad in (
        ("text-to-image", {"size": "100*100"}),
        ("text-to-image", {"size": "big"}),
        ("text-to-image", {"n": 5}),
        ("text-to-video", {"model": "wanx2.1-i2v-turbo"}),
        ("image-to-video", {"img_url": "not an image!"}),
    ):
        with pytest.raises(InvalidRequest):
            p.validate(task_type, {"prompt": "x", **bad})


def test_end_to_end(tmp_path: Path) -> None:
    state = DashScopeState(KEY, queue_s=0.1, run_s=0.2)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        submit_and_finish(
            tmp_path,
            "dashscope",
            {"base_url": url, "api_key": KEY},
            "text-to-image",
            {"prompt": "a flower shop"},
            url,
            "image/png",
        )


def test_unconfigured_is_a_4xx(tmp_path: Path) -> None:
    r = unconfigured_submit(tmp_path, "dashscope", "text-to-image", {"prompt": "a flower shop"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"


def test_a_job_that_outlives_its_deadline_is_canceled_at_the_vendor(tmp_path: Path) -> None:
    state = DashScopeState(KEY, queue_s=60, run_s=60)
    with serve_asgi(build_app(state)) as url:
        outlive_deadline(tmp_path, "dashscope", {"base_url": url, "api_key": KEY}, "text-to-image", {"prompt": "x"})
        (job,) = state.jobs.values()
        assert job.canceled
