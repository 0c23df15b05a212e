"""OpenAI images client against its imitation: url and b64_json outputs, per-model params, each error code.

What every vendor does (auth, each error class, odd replies, deadline, re-hosting) is in
``tests/test_vendor_conformance.py``.
"""

from __future__ import annotations

import pytest

from genpulse.core.errors import (
    ContentModerated,
    InsufficientBalance,
    InvalidRequest,
    ProviderError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
)
from genpulse.providers.cloud import JobState, VendorJob
from tests.vendors.common import tiny_png
from tests.vendors.harness import OPENAI, Env, vendor_fixtures

server, env = vendor_fixtures(OPENAI)


async def run(env: Env, **params) -> VendorJob:
    return await env.submit("text-to-image", {"prompt": "a fox", **params})


async def test_gpt_image_returns_inline_bytes(env: Env) -> None:
    job = await run(env, output_format="webp")
    assert job.state is JobState.succeeded and job.job_id.startswith("oai-img-")
    (out,) = job.outputs
    assert out.data == tiny_png() and out.url is None and out.content_type == "image/webp"
    assert env.state.requests[-1] == {"model": "gpt-image-1", "prompt": "a fox", "n": 1, "size": "1024x1024",
                                      "output_format": "webp"}  # fmt: skip


async def test_dalle_returns_urls_and_b64_on_request(env: Env) -> None:
    job = await run(env, model="dall-e-2", n=2, size="256x256")
    assert [o.url.split("?")[0].rsplit("/", 1)[1] for o in job.outputs] == [f"img{n}-{i}.png" for n in [env.state._seq]
                                                                            for i in (0, 1)]  # fmt: skip
    job = await run(env, model="dall-e-3", response_format="b64_json", quality="hd")
    assert job.outputs[0].data == tiny_png() and job.outputs[0].extra["revised_prompt"] == "revised: a fox"


def test_params_are_checked_per_model() -> None:
    p = OPENAI.make_provider("http://127.0.0.1:9")
    for bad in (
        {"model": "dall-e-3", "n": 2},
        {"model": "dall-e-2", "size": "1536x1024"},
        {"model": "gpt-image-1", "response_format": "url"},
        {"model": "dall-e-3", "quality": "low"},
        {"model": "dall-e-2", "background": "transparent"},
        {"model": "dall-e-2", "prompt": "x" * 1001},
        {"size": "999x999"},
        {"bogus": 1},
    ):
        with pytest.raises(InvalidRequest):
            p.validate("text-to-image", {"prompt": "a fox", **bad})
    assert "gpt-image-1" in str(p.schemas()["text-to-image"])


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        ("invalid_request_error", ProviderInvalidInput, False),
        ("content_policy_violation", ContentModerated, False),
        ("moderation_blocked", ContentModerated, False),
        ("rate_limit_exceeded", ProviderRateLimited, True),
        ("insufficient_quota", InsufficientBalance, False),
        ("server_error", ProviderServerError, True),
        ("overloaded", ProviderServerError, True),
    ],
)
async def test_errors_are_mapped(env: Env, code, cls, retryable) -> None:
    env.state.errors.append(code)
    with pytest.raises(cls) as info:
        await run(env)
    assert type(info.value) is cls and info.value.retryable is retryable
    if code == "rate_limit_exceeded":
        assert info.value.retry_after == 2


async def test_a_synchronous_job_is_never_polled_again(env: Env) -> None:
    with pytest.raises(ProviderError) as info:
        await env.poll("text-to-image", "oai-img-1")
    assert info.value.retryable is False
