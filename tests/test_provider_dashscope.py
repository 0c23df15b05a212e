"""DashScope (Wan) client against its imitation: async create + task query, cancel, each error code.

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
)
from genpulse.providers.cloud import JobState, VendorJob
from tests.vendors.common import tiny_png
from tests.vendors.harness import DASHSCOPE, Env, vendor_fixtures

PNG_B64 = base64.b64encode(tiny_png()).decode()

server, env = vendor_fixtures(DASHSCOPE, queue_s=10, run_s=20)


async def submit(env: Env, task_type: str = "text-to-image", **params) -> VendorJob:
    base = {} if task_type == "image-to-video" else {"prompt": "a flower shop"}
    return await env.submit(task_type, {**base, **params})


async def test_image_task_walks_through_every_status(env: Env) -> None:
    job = await submit(env, n=2, size="1280x720", negative_prompt="people", seed=42)
    assert job.state is JobState.queued and len(job.job_id) == 36
    assert env.state.requests[-1] == {
        "model": "wanx2.1-t2i-turbo",
        "input": {"prompt": "a flower shop", "negative_prompt": "people"},
        "parameters": {"seed": 42, "prompt_extend": True, "watermark": False, "size": "1280*720", "n": 2},
    }
    states = []
    for step in (0, 10, 20):
        env.clock.advance(step)
        states.append((await env.poll("text-to-image", job.job_id)).raw_status)
    assert states == ["PENDING", "RUNNING", "SUCCEEDED"]
    done = await env.poll("text-to-image", job.job_id)
    assert done.state is JobState.succeeded and [o.kind for o in done.outputs] == ["image", "image"]


async def test_videos_and_a_partly_moderated_image_task(env: Env) -> None:
    job = await submit(env, "image-to-video", img_url=PNG_B64, resolution="480P")
    assert env.state.requests[-1]["input"] == {"img_url": f"data:image/png;base64,{PNG_B64}"}
    done = await env.finish("image-to-video", job, after_s=31)
    assert [o.kind for o in done.outputs] == ["video"] and done.outputs[0].url.split("?")[0].endswith(".mp4")
    env.state.outcomes.append("partial")
    done = await env.finish("text-to-image", await submit(env, n=3), after_s=31)
    assert done.state is JobState.succeeded and len(done.outputs) == 2


async def test_cancel_while_pending_only(env: Env) -> None:
    job = await submit(env, "text-to-video")
    assert await env.provider.cancel(env.client, "text-to-video", job.job_id) is True
    assert (await env.poll("text-to-video", job.job_id)).state is JobState.canceled
    job = await submit(env, "text-to-video")
    env.clock.advance(15)
    assert await env.provider.cancel(env.client, "text-to-video", job.job_id) is False


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
async def test_errors_are_mapped(env: Env, code, cls, retryable) -> None:
    env.state.errors.append(code)
    with pytest.raises(cls) as info:
        await submit(env)
    assert type(info.value) is cls and info.value.retryable is retryable and info.value.provider_code == code


@pytest.mark.parametrize(  # output moderation: the conformance suite
    ("outcome", "cls"), [("fail", ProviderServerError), ("expired", ProviderError)]
)
async def test_failed_tasks_carry_their_reason(env: Env, outcome, cls) -> None:
    env.state.outcomes.append(outcome)
    done = await env.finish("text-to-image", await submit(env), after_s=31)
    assert done.state is JobState.failed and type(done.error) is cls


def test_params_are_strict() -> None:
    p = DASHSCOPE.make_provider("http://127.0.0.1:9")
    for task_type, bad in (
        ("text-to-image", {"size": "100*100"}),
        ("text-to-image", {"size": "big"}),
        ("text-to-image", {"n": 5}),
        ("text-to-video", {"model": "wanx2.1-i2v-turbo"}),
        ("image-to-video", {"img_url": "not an image!"}),
    ):
        with pytest.raises(InvalidRequest):
            p.validate(task_type, {"prompt": "x", **bad})
