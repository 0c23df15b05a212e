"""OpenAI images client against its imitation: url and b64_json outputs, each error class, odd replies, e2e."""

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
)
from genpulse.providers.cloud import JobState
from genpulse.providers.vendors.openai import OpenAIProvider
from tests.vendors.common import tiny_png
from tests.vendors.e2e import submit_and_finish, unconfigured_submit
from tests.vendors.openai import OpenAIState, build_app
from tests.vendors.server import serve_asgi

KEY = "sk-test-openai-0000"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[OpenAIState, str]]:
    state = OpenAIState(KEY)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


@pytest.fixture
def state(server: tuple[OpenAIState, str]) -> OpenAIState:
    server[0].errors.clear()
    return server[0]


def provider(url: str, key: str = KEY) -> OpenAIProvider:
    return OpenAIProvider(AppArgs.load({"providers": {"openai": {"base_url": f"{url}/v1", "api_key": key}}}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def run(p: OpenAIProvider, client: httpx.AsyncClient, **params):
    return await p.submit(client, "text-to-image", p.validate("text-to-image", {"prompt": "a fox", **params}))


async def test_gpt_image_returns_inline_bytes(server, state, client) -> None:
    job = await run(provider(server[1]), client, output_format="webp")
    assert job.state is JobState.succeeded and job.job_id.startswith("oai-img-")
    (out,) = job.outputs
    assert out.data == tiny_png() and out.url is None and out.content_type == "image/webp"
    assert state.requests[-1] == {"model": "gpt-image-1", "prompt": "a fox", "n": 1, "size": "1024x1024",
                                  "output_format": "webp"}  # fmt: skip


async def test_dalle_returns_urls_and_b64_on_request(server, state, client) -> None:
    job = await run(provider(server[1]), client, model="dall-e-2", n=2, size="256x256")
    assert [o.url.split("?")[0].rsplit("/", 1)[1] for o in job.outputs] == [f"img{n}-{i}.png" for n in [state._seq]
                                                                            for i in (0, 1)]  # fmt: skip
    job = await run(provider(server[1]), client, model="dall-e-3", response_format="b64_json", quality="hd")
    assert job.outputs[0].data == tiny_png() and job.outputs[0].extra["revised_prompt"] == "revised: a fox"


def test_params_are_checked_per_model() -> None:
    p = provider("http://127.0.0.1:9")
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
async def test_errors_are_mapped(server, state, client, code, cls, retryable) -> None:
    state.errors.append(code)
    with pytest.raises(cls) as info:
        await run(provider(server[1]), client)
    assert type(info.value) is cls and info.value.retryable is retryable
    if code == "rate_limit_exceeded":
        assert info.value.retry_after == 2


async def test_bad_key_and_malformed_reply(server, state, client) -> None:
    with pytest.raises(ProviderAuthError):
        await run(provider(server[1], "sk-wrong"), client)
    state.errors.append("malformed")
    with pytest.raises(MalformedReply):
        await run(provider(server[1]), client)


async def test_a_synchronous_job_is_never_polled_again(server, client) -> None:
    with pytest.raises(ProviderError) as info:
        await provider(server[1]).poll(client, "text-to-image", "oai-img-1")
    assert info.value.retryable is False


def test_end_to_end(tmp_path: Path, server) -> None:
    cfg = {"base_url": f"{server[1]}/v1", "api_key": KEY}
    submit_and_finish(
        tmp_path, "openai", cfg, "text-to-image", {"prompt": "a fox", "model": "dall-e-2"}, server[1], "image/png"
    )


def test_unconfigured_is_a_4xx(tmp_path: Path) -> None:
    r = unconfigured_submit(tmp_path, "openai", "text-to-image", {"prompt": "a fox"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"
