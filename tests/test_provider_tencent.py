"""Tencent client against the Tencent imitation: TC3 vector, hunyuan/aiart/vclm jobs, each error class."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

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
)
from genpulse.providers.cloud import JobState, VendorJob
from genpulse.providers.request_signing import canonical_request, sha256_hex, tc3_sign, tc3_signature
from genpulse.providers.vendors.tencent import TencentProvider
from tests.harness import local_args, running_app
from tests.vendors.common import Clock, tiny_png
from tests.vendors.live import assert_assets_are_ours, submit_and_wait
from tests.vendors.server import serve_asgi
from tests.vendors.tencent import TencentState, build_app, tc3_expected_signature

SECRET_ID, SECRET_KEY = "AKIDtestsecretid00000000000000000000", "TestSecretKey00000000000000000000"
VECTOR_BODY = '{"Prompt":"雨中, 竹林, 小路","Resolution":"1024:1024"}'.encode()
VECTOR_CREQ = (
    "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:hunyuan.tencentcloudapi.com\n"
    "x-tc-action:submithunyuanimagejob\n\ncontent-type;host;x-tc-action\n"
    "addcb36c830d04e90858bef9e2065093fef1342542e05f306aeb1b6b93e90d47"
)
VECTOR_STS = (
    "TC3-HMAC-SHA256\n1735787045\n2025-01-02/hunyuan/tc3_request\n"
    "1f7eb4dc1c899caf5350881911baa12c12bbde7c7ab85df5d4b8a28d62294f1d"
)
VECTOR_AUTH = (
    "TC3-HMAC-SHA256 Credential=AKIDtestsecretid00000000000000000000/2025-01-02/hunyuan/tc3_request, "
    "SignedHeaders=content-type;host;x-tc-action, "
    "Signature=ad209fc4d0cab835e69d9140b5e3630ef68f0cfcb700b7a4135b2a1439a4eec7"
)
PNG_B64 = base64.b64encode(tiny_png()).decode()


def test_tc3_matches_published_vector() -> None:
    assert sha256_hex(VECTOR_BODY) == "addcb36c830d04e90858bef9e2065093fef1342542e05f306aeb1b6b93e90d47"
    canonical = {
        "content-type": "application/json; charset=utf-8",
        "host": "hunyuan.tencentcloudapi.com",
        "x-tc-action": "submithunyuanimagejob",
    }
    creq = canonical_request("POST", "/", "", canonical, sorted(canonical), VECTOR_BODY)
    assert creq == VECTOR_CREQ
    sts, signature = tc3_signature(SECRET_KEY, 1735787045, "hunyuan", creq)
    assert sts == VECTOR_STS
    assert tc3_expected_signature(SECRET_KEY, "2025-01-02", "hunyuan", "1735787045", creq) == signature
    headers = tc3_sign(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        action="SubmitHunyuanImageJob",
        version="2023-09-01",
        region="ap-guangzhou",
        body=VECTOR_BODY,
        now=1735787045,
    )
    assert headers["authorization"] == VECTOR_AUTH
    assert headers["x-tc-action"] == "SubmitHunyuanImageJob" and headers["x-tc-timestamp"] == "1735787045"


@dataclass
class Env:
    state: TencentState
    provider: TencentProvider
    client: httpx.AsyncClient
    clock: Clock


def make_provider(url: str, clock: Clock, secret: str = SECRET_KEY) -> TencentProvider:
    cfg = {"base_url": url, "access_key": SECRET_ID, "secret_key": secret}
    return TencentProvider(AppArgs.load({"providers": {"tencent": cfg}}), clock=clock)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[TencentState, str]]:
    state = TencentState({SECRET_ID: SECRET_KEY}, queue_s=10, run_s=20)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        yield state, url


@pytest.fixture
async def env(server: tuple[TencentState, str]) -> AsyncIterator[Env]:
    state, url = server
    state.clock = Clock()
    state.errors.clear()
    state.outcomes.clear()
    async with httpx.AsyncClient() as client:
        yield Env(state, make_provider(url, state.clock), client, state.clock)


async def submit(env: Env, task_type: str, params: dict) -> VendorJob:
    return await env.provider.submit(env.client, task_type, env.provider.validate(task_type, params))


def test_poll_schedule_is_quick_for_images_and_a_configured_interval_wins() -> None:
    provider = make_provider("http://127.0.0.1:1", Clock())
    assert provider.poll_delay("text-to-image", 40, 20) == 3.0 and provider.poll_delay("text-to-video", 120, 40) > 3
    cfg = {"access_key": SECRET_ID, "secret_key": SECRET_KEY, "poll_interval_s": 0.25}
    fixed = TencentProvider(AppArgs.load({"providers": {"tencent": cfg}}))
    assert fixed.poll_delay("text-to-image", 40, 20) == fixed.poll_delay("text-to-video", 120, 40) == 0.25


def test_param_models() -> None:
    provider = make_provider("http://127.0.0.1:1", Clock())
    schemas = provider.schemas()
    assert schemas["text-to-image"]["properties"]["api"]["enum"] == ["hunyuan", "aiart"]
    assert schemas["text-to-video"]["properties"]["prompt"]["maxLength"] == 200
    with pytest.raises(InvalidRequest, match="api=aiart"):
        provider.validate("text-to-image", {"api": "aiart", "prompt": "x", "num": 3})
    with pytest.raises(InvalidRequest):
        provider.validate("image-to-video", {"prompt": "no image"})


@pytest.mark.parametrize(
    ("task_type", "params", "action"),
    [
        ("text-to-image", {"prompt": "雨中, 竹林, 小路", "num": 2}, "SubmitHunyuanImageJob"),
        ("text-to-image", {"api": "aiart", "prompt": "竹林", "seed": 7}, "SubmitTextToImageJob"),
        ("text-to-video", {"prompt": "一只猫在草原上奔跑"}, "SubmitHunyuanToVideoJob"),
        ("image-to-video", {"image": PNG_B64, "prompt": "动起来"}, "SubmitHunyuanToVideoJob"),
    ],
)
async def test_each_job_kind_succeeds(env: Env, task_type: str, params: dict, action: str) -> None:
    job = await submit(env, task_type, params)
    assert env.state.requests[-1]["action"] == action
    states = [job.state]
    for step in (0, 15, 20):
        env.clock.advance(step)
        job = await env.provider.poll(env.client, task_type, job.job_id)
        states.append(job.state)
    assert states == [JobState.queued, JobState.queued, JobState.running, JobState.succeeded]
    assert len(job.outputs) == params.get("num", 1)
    assert (await env.client.get(job.outputs[0].url)).status_code == 200
    if task_type == "image-to-video":
        assert env.state.jobs[job.job_id].body["Image"] == {"Base64": PNG_B64}


async def test_bad_secret_and_skewed_clock_are_auth_errors(env: Env) -> None:
    with pytest.raises(ProviderAuthError) as exc:
        await make_provider(env.provider.base_url, env.clock, "wrong").poll(env.client, "text-to-video", "1")
    assert exc.value.provider_code == "AuthFailure.SignatureFailure"
    with pytest.raises(ProviderAuthError) as exc:
        await make_provider(env.provider.base_url, Clock(env.clock() - 600)).poll(env.client, "text-to-video", "1")
    assert exc.value.provider_code == "AuthFailure.SignatureExpire"


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        ("AuthFailure.SecretIdNotFound", ProviderAuthError, False),
        ("FailedOperation.ServiceNotActivated", ProviderAuthError, False),
        ("InvalidParameterValue.TextLengthExceed", ProviderInvalidInput, False),
        ("MissingParameter", ProviderInvalidInput, False),
        ("OperationDenied.TextIllegalDetected", ContentModerated, False),
        ("OperationDenied.ImageIllegalDetected", ContentModerated, False),
        ("ResourceUnavailable.LowBalance", InsufficientBalance, False),
        ("ResourceUnavailable.InArrears", InsufficientBalance, False),
        ("ResourceInsufficient.ChargeResourceExhaust", InsufficientBalance, False),
        ("FailedOperation.ResourcePackExhausted", InsufficientBalance, False),
        ("RequestLimitExceeded", ProviderRateLimited, True),
        ("RequestLimitExceeded.JobNumExceed", ProviderRateLimited, True),
        ("InternalError", ProviderServerError, True),
    ],
)
async def test_vendor_error_codes(env: Env, code: str, error: type, retryable: bool) -> None:
    env.state.errors.append(code)
    with pytest.raises(error) as exc:
        await submit(env, "text-to-image", {"prompt": "x"})
    assert exc.value.provider_code == code and exc.value.retryable is retryable


@pytest.mark.parametrize("task_type", ["text-to-image", "text-to-video"])
@pytest.mark.parametrize(("outcome", "error"), [("moderated", ContentModerated), ("fail", ProviderServerError)])
async def test_failed_job_maps_its_error_code(env: Env, task_type: str, outcome: str, error: type) -> None:
    env.state.outcomes.append(outcome)
    job = await submit(env, task_type, {"prompt": "x"})
    env.clock.advance(60)
    job = await env.provider.poll(env.client, task_type, job.job_id)
    assert job.state is JobState.failed and isinstance(job.error, error)


@pytest.mark.parametrize("task_type", ["text-to-image", "text-to-video"])
@pytest.mark.parametrize("outcome", ["unknown", "malformed"])
async def test_unknown_status_and_malformed_reply(env: Env, task_type: str, outcome: str) -> None:
    env.state.outcomes.append(outcome)
    job = await submit(env, task_type, {"prompt": "x"})
    env.clock.advance(60)
    with pytest.raises(MalformedReply):
        await env.provider.poll(env.client, task_type, job.job_id)


async def test_unknown_job_is_refused(env: Env) -> None:
    with pytest.raises(ProviderInvalidInput, match="JobNotExist"):
        await env.provider.poll(env.client, "text-to-image", "aiart:nope")


# End to end: the HTTP API, real workers and storage, against the imitation -----------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TencentState, httpx.Client]]:
    state = TencentState({SECRET_ID: SECRET_KEY}, queue_s=0.1, run_s=0.2)
    with serve_asgi(build_app(state)) as url:
        state.base_url = url
        tencent = {"base_url": url, "access_key": SECRET_ID, "secret_key": SECRET_KEY, "poll_interval_s": 0.1}
        args = local_args(tmp_path_factory.mktemp("tencent"), providers={"tencent": tencent})
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as client:
            yield state, client


def test_e2e_images_are_stored_as_our_assets(live: tuple[TencentState, httpx.Client]) -> None:
    state, client = live
    body = {"provider": "tencent", "task_type": "text-to-image", "params": {"prompt": "雨中, 竹林", "num": 2}}
    task = submit_and_wait(client, body)
    assert_assets_are_ours(client, task, state.base_url, "image/png")
    assert len(task["result"]["assets"]) == 2


def test_e2e_image_to_video(live: tuple[TencentState, httpx.Client]) -> None:
    state, client = live
    body = {"provider": "tencent", "task_type": "image-to-video", "params": {"image": PNG_B64}}
    assert_assets_are_ours(client, submit_and_wait(client, body), state.base_url, "video/mp4")


def test_e2e_job_outliving_its_deadline_fails(live: tuple[TencentState, httpx.Client]) -> None:
    state, client = live
    state.outcomes.append("forever")
    body = {"provider": "tencent", "task_type": "text-to-video", "params": {"prompt": "x"}, "deadline_s": 1.5}
    task = submit_and_wait(client, body)
    assert task["status"] == "failed" and task["error"]["type"] == "provider_timeout" and task["attempts"] == 1
