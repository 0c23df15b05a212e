"""Kling client against the Kling imitation: JWT, every task type, each error code, token renewal.

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
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState
from genpulse.providers.request_signing import JwtCache, hs256_jwt
from tests.vendors.common import Clock, tiny_png
from tests.vendors.harness import KLING, Env, Live, live_fixture, vendor_fixtures
from tests.vendors.live import assert_assets_are_ours

AK, SK = KLING.credentials["access_key"], KLING.credentials["secret_key"]
VECTOR_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJBS3Rlc3RrbGluZzAwMDAiLCJleHAiOjE3MzU3ODg4NDUsIm5iZiI6MTcz"
    "NTc4NzA0MH0.fth2vKkQfy4LY7P5Ov_4opOdQDbCglp0BO7KCNJNFNQ"
)
PNG_B64 = base64.b64encode(tiny_png()).decode()
TASK_TYPES = {"text-to-image", "text-to-video", "image-to-video"}

server, env = vendor_fixtures(KLING, queue_s=10, run_s=20)
live_app, live = live_fixture(KLING)


def test_jwt_matches_published_vector() -> None:
    claims = {"iss": AK, "exp": 1735788845, "nbf": 1735787040}
    assert hs256_jwt(claims, SK) == VECTOR_JWT
    assert JwtCache(AK, SK, clock=lambda: 1735787045).token() == VECTOR_JWT
    jwt = pytest.importorskip("jwt")  # PyJWT, a test-only cross-check
    assert jwt.decode(VECTOR_JWT, SK, algorithms=["HS256"], options={"verify_exp": False}) == claims


def test_jwt_is_reused_then_renewed_before_expiry() -> None:
    now = [1_000_000.0]
    cache = JwtCache(AK, SK, ttl_s=1800, renew_before_s=300, clock=lambda: now[0])
    first = cache.token()
    now[0] += 1499
    assert cache.token() == first
    now[0] += 1
    assert cache.token() != first


def test_param_models_are_strict_and_documented() -> None:
    provider = KLING.make_provider("http://127.0.0.1:1", Clock())
    schemas = provider.schemas()
    assert set(schemas) == TASK_TYPES
    video = schemas["text-to-video"]["properties"]
    assert video["duration"]["enum"] == [5, 10] and video["mode"]["description"]
    assert schemas["text-to-image"]["properties"]["n"]["maximum"] == 9
    with pytest.raises(InvalidRequest):
        provider.validate("image-to-video", {"prompt": "no frame"})
    with pytest.raises(InvalidRequest):
        provider.validate("image-to-video", {"image": "http://insecure.example/a.png"})
    with pytest.raises(InvalidRequest):
        provider.validate("text-to-video", {"prompt": "x", "bogus": 1})


@pytest.mark.parametrize(
    ("task_type", "params"),
    [
        ("text-to-image", {"prompt": "a fox", "n": 2}),
        ("text-to-video", {"prompt": "an eagle", "mode": "pro", "duration": 10}),
        ("image-to-video", {"image": f"data:image/png;base64,{PNG_B64}", "prompt": "it moves"}),
    ],
)
async def test_each_task_type_succeeds(env: Env, task_type: str, params: dict) -> None:
    states, job = await env.walk(task_type, await env.submit(task_type, params))
    assert states == [JobState.queued, JobState.queued, JobState.running, JobState.succeeded]
    assert job.outputs and all(o.url for o in job.outputs)
    assert (await env.client.get(job.outputs[0].url)).status_code == 200
    sent = env.state.requests[-1]["body"]
    if task_type == "image-to-video":
        assert sent["image"] == PNG_B64  # data: prefix stripped, as Kling requires
    if task_type == "text-to-video":
        assert sent["duration"] == "10"


async def test_token_is_renewed_across_polls(env: Env) -> None:
    job = await env.submit("text-to-video", {"prompt": "x"})
    env.clock.advance(1600)  # past exp - 300: the client must sign a fresh token, or the vendor says 1004
    await env.poll("text-to-video", job.job_id)
    assert len(set(env.state.tokens[-2:])) == 2


async def test_wrong_secret_and_expired_token_are_auth_errors(env: Env) -> None:
    with pytest.raises(ProviderAuthError) as exc:
        await env.poll("text-to-video", "1", env.make(secret_key="S" * 32))
    assert exc.value.provider_code == "1002" and not exc.value.retryable
    with pytest.raises(ProviderAuthError) as exc:
        await env.poll("text-to-video", "1", env.make(clock=Clock(start=env.clock() - 3600)))
    assert exc.value.provider_code == "1004"


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        (1000, ProviderAuthError, False),
        (1103, ProviderAuthError, False),
        (1101, InsufficientBalance, False),
        (1102, InsufficientBalance, False),
        (1200, ProviderInvalidInput, False),
        (1203, ProviderInvalidInput, False),
        (1301, ContentModerated, False),
        (1302, ProviderRateLimited, True),
        (1303, ProviderRateLimited, True),
        (5000, ProviderServerError, True),
        (5001, ProviderServerError, True),
        (5002, ProviderTimeout, True),
    ],
)
async def test_vendor_error_codes(env: Env, code: int, error: type, retryable: bool) -> None:
    env.state.errors.append(code)
    with pytest.raises(error) as exc:
        await env.submit("text-to-image", {"prompt": "a"})
    assert exc.value.provider_code == str(code)
    assert exc.value.retryable is retryable


async def test_failed_task_carries_its_reason(env: Env) -> None:
    env.state.outcomes.append("fail")  # output moderation: the conformance suite
    job = await env.finish("text-to-video", await env.submit("text-to-video", {"prompt": "x"}))
    assert job.state is JobState.failed and isinstance(job.error, ProviderServerError)


async def test_slow_vendor_times_out(env: Env) -> None:
    env.state.errors.append("slow")
    with pytest.raises(ProviderTimeout) as exc:
        await env.poll("text-to-video", "1", env.make(timeout_s=0.2))
    assert exc.value.retryable


async def test_unreachable_vendor_is_retryable(env: Env) -> None:
    down = KLING.make_provider("http://127.0.0.1:9", env.clock)
    with pytest.raises(ProviderServerError) as exc:
        await env.poll("text-to-video", "1", down)
    assert exc.value.retryable


# End to end: the HTTP API, real workers and storage, against the imitation -----------------------------------


def test_e2e_video_is_stored_as_our_asset(live: Live) -> None:
    task = live.run("text-to-video", {"prompt": "an eagle", "duration": 5})
    assert_assets_are_ours(live.client, task, live.state.base_url, "video/mp4")
    info = {p["name"]: p for p in live.client.get("/v1/providers").json()["data"]}
    assert info["kling"]["configured"] and info["kling"]["task_types"] == sorted(TASK_TYPES)
    schemas = live.client.get("/meta/schemas/kling").json()["task_types"]
    assert set(schemas) == TASK_TYPES and schemas["text-to-video"]["additionalProperties"] is False


def test_e2e_moderated_job_fails_without_retry(live: Live) -> None:
    live.state.outcomes.append("moderated")
    task = live.run("text-to-image", {"prompt": "x"})
    assert task["status"] == "failed" and task["attempts"] == 1
    assert task["error"]["type"] == "content_moderated" and not task["error"]["retryable"]
