"""Kling client against the Kling imitation: JWT, every task type, each error class, odd replies."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState, VendorJob
from genpulse.providers.request_signing import JwtCache, hs256_jwt
from genpulse.providers.vendors.kling import KlingProvider
from tests.harness import local_args, running_app
from tests.vendors.common import Clock, tiny_png
from tests.vendors.kling import KlingState, build_app
from tests.vendors.live import assert_assets_are_ours, submit_and_wait
from tests.vendors.server import serve_asgi

AK, SK = "AKtestkling0000", "SKtestkling0000000000000000000000"
VECTOR_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJBS3Rlc3RrbGluZzAwMDAiLCJleHAiOjE3MzU3ODg4NDUsIm5iZiI6MTcz"
    "NTc4NzA0MH0.fth2vKkQfy4LY7P5Ov_4opOdQDbCglp0BO7KCNJNFNQ"
)
PNG_B64 = base64.b64encode(tiny_png()).decode()


@dataclass
class Env:
    state: KlingState
    provider: KlingProvider
    client: httpx.AsyncClient
    clock: Clock


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[KlingState, str]]:
    state = KlingState({AK: SK}, queue_s=10, run_s=20)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


def make_provider(url: str, clock: Clock, secret: str = SK) -> KlingProvider:
    args = AppArgs.load({"providers": {"kling": {"base_url": url, "access_key": AK, "secret_key": secret}}})
    return KlingProvider(args, clock=clock)


@pytest.fixture
async def env(server: tuple[KlingState, str]) -> AsyncIterator[Env]:
    state, url = server
    state.clock = Clock()
    state.errors.clear()
    state.outcomes.clear()
    async with httpx.AsyncClient() as client:
        yield Env(state, make_provider(url, state.clock), client, state.clock)


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
    provider = make_provider("http://127.0.0.1:1", Clock())
    schemas = provider.schemas()
    assert set(schemas) == {"text-to-image", "text-to-video", "image-to-video"}
    video = schemas["text-to-video"]["properties"]
    assert video["duration"]["enum"] == [5, 10] and video["mode"]["description"]
    assert schemas["text-to-image"]["properties"]["n"]["maximum"] == 9
    with pytest.raises(InvalidRequest):
        provider.validate("image-to-video", {"prompt": "no frame"})
    with pytest.raises(InvalidRequest):
        provider.validate("image-to-video", {"image": "http://insecure.example/a.png"})
    with pytest.raises(InvalidRequest):
        provider.validate("text-to-video", {"prompt": "x", "bogus": 1})


async def walk(env: Env, task_type: str, params: dict) -> list[JobState]:
    model = env.provider.validate(task_type, params)
    job = await env.provider.submit(env.client, task_type, model)
    states = [job.state]
    for step in (0, 15, 20):
        env.clock.advance(step)
        job = await env.provider.poll(env.client, task_type, job.job_id)
        states.append(job.state)
    assert job.outputs and all(o.url for o in job.outputs)
    download = await env.client.get(job.outputs[0].url)
    assert download.status_code == 200
    return states


@pytest.mark.parametrize(
    ("task_type", "params"),
    [
        ("text-to-image", {"prompt": "a fox", "n": 2}),
        ("text-to-video", {"prompt": "an eagle", "mode": "pro", "duration": 10}),
        ("image-to-video", {"image": f"data:image/png;base64,{PNG_B64}", "prompt": "it moves"}),
    ],
)
async def test_each_task_type_succeeds(env: Env, task_type: str, params: dict) -> None:
    states = await walk(env, task_type, params)
    assert states == [JobState.queued, JobState.queued, JobState.running, JobState.succeeded]
    sent = env.state.requests[-1]["body"]
    if task_type == "image-to-video":
        assert sent["image"] == PNG_B64  # data: prefix stripped, as Kling requires
    if task_type == "text-to-video":
        assert sent["duration"] == "10"


async def submit_video(env: Env) -> VendorJob:
    params = env.provider.validate("text-to-video", {"prompt": "x"})
    return await env.provider.submit(env.client, "text-to-video", params)


async def test_token_is_renewed_across_polls(env: Env) -> None:
    job = await submit_video(env)
    env.clock.advance(1600)  # past exp - 300: the client must sign a fresh token, or the vendor says 1004
    await env.provider.poll(env.client, "text-to-video", job.job_id)
    assert len(set(env.state.tokens[-2:])) == 2


async def test_wrong_secret_and_expired_token_are_auth_errors(env: Env) -> None:
    bad = make_provider(env.provider.base_url, env.clock, secret="S" * 32)
    with pytest.raises(ProviderAuthError) as exc:
        await bad.poll(env.client, "text-to-video", "1")
    assert exc.value.provider_code == "1002" and not exc.value.retryable
    stale = make_provider(env.provider.base_url, Clock(start=env.clock() - 3600))
    with pytest.raises(ProviderAuthError) as exc:
        await stale.poll(env.client, "text-to-video", "1")
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
        await env.provider.submit(env.client, "text-to-image", env.provider.validate("text-to-image", {"prompt": "a"}))
    assert exc.value.provider_code == str(code)
    assert exc.value.retryable is retryable


@pytest.mark.parametrize(("outcome", "error"), [("moderated", ContentModerated), ("fail", ProviderServerError)])
async def test_failed_task_carries_its_reason(env: Env, outcome: str, error: type) -> None:
    env.state.outcomes.append(outcome)
    job = await submit_video(env)
    env.clock.advance(60)
    job = await env.provider.poll(env.client, "text-to-video", job.job_id)
    assert job.state is JobState.failed and isinstance(job.error, error)


@pytest.mark.parametrize("outcome", ["unknown", "malformed"])
async def test_unknown_status_and_malformed_reply(env: Env, outcome: str) -> None:
    env.state.outcomes.append(outcome)
    job = await submit_video(env)
    env.clock.advance(60)
    with pytest.raises(MalformedReply):
        await env.provider.poll(env.client, "text-to-video", job.job_id)


async def test_slow_vendor_times_out(env: Env) -> None:
    args = {"base_url": env.provider.base_url, "access_key": AK, "secret_key": SK, "timeout_s": 0.2}
    impatient = KlingProvider(AppArgs.load({"providers": {"kling": args}}), clock=env.clock)
    env.state.errors.append("slow")
    with pytest.raises(ProviderTimeout) as exc:
        await impatient.poll(env.client, "text-to-video", "1")
    assert exc.value.retryable


async def test_unreachable_vendor_is_retryable(env: Env) -> None:
    down = make_provider("http://127.0.0.1:9", env.clock)
    with pytest.raises(ProviderServerError) as exc:
        await down.poll(env.client, "text-to-video", "1")
    assert exc.value.retryable


# End to end: the HTTP API, real workers and storage, against the imitation -----------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KlingState, httpx.Client]]:
    state = KlingState({AK: SK}, queue_s=0.1, run_s=0.2)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        kling = {"base_url": url, "access_key": AK, "secret_key": SK, "poll_interval_s": 0.1}
        args = local_args(tmp_path_factory.mktemp("kling"), providers={"kling": kling})
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as client:
            yield state, client


def test_e2e_video_is_stored_as_our_asset(live: tuple[KlingState, httpx.Client]) -> None:
    state, client = live
    body = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "an eagle", "duration": 5}}
    task = submit_and_wait(client, body)
    assert_assets_are_ours(client, task, state.base_url, "video/mp4")
    info = {p["name"]: p for p in client.get("/v1/providers").json()["data"]}
    assert info["kling"]["configured"] and info["kling"]["task_types"] == sorted(_TASK_TYPES)
    schemas = client.get("/meta/schemas/kling").json()["task_types"]
    assert set(schemas) == _TASK_TYPES and schemas["text-to-video"]["additionalProperties"] is False


def test_e2e_moderated_job_fails_without_retry(live: tuple[KlingState, httpx.Client]) -> None:
    state, client = live
    state.outcomes.append("moderated")
    task = submit_and_wait(client, {"provider": "kling", "task_type": "text-to-image", "params": {"prompt": "x"}})
    assert task["status"] == "failed" and task["attempts"] == 1
    assert task["error"]["type"] == "content_moderated" and not task["error"]["retryable"]


def test_e2e_job_outliving_its_deadline_fails(live: tuple[KlingState, httpx.Client]) -> None:
    state, client = live
    state.outcomes.append("forever")
    body = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "x"}, "deadline_s": 1.5}
    task = submit_and_wait(client, body)
    assert task["status"] == "failed" and task["error"]["type"] == "provider_timeout"
    assert task["provider_task_id"] in state.jobs  # submitted once, then abandoned (Kling has no cancel API)


def test_e2e_unconfigured_provider_is_refused_at_submit(tmp_path: Path) -> None:
    with running_app(local_args(tmp_path)) as app:
        body = {"provider": "kling", "task_type": "text-to-image", "params": {"prompt": "x"}}
        r = httpx.post(f"{app.url}/v1/tasks", json=body)
        assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"
        info = {p["name"]: p for p in httpx.get(f"{app.url}/v1/providers").json()["data"]}
        assert info["kling"]["configured"] is False


_TASK_TYPES = {"text-to-image", "text-to-video", "image-to-video"}
