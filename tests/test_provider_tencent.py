"""Tencent client against the Tencent imitation: the TC3 vector, hunyuan/aiart/vclm jobs, each error code.

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
)
from genpulse.providers.cloud import JobState
from genpulse.providers.request_signing import canonical_request, sha256_hex, tc3_sign, tc3_signature
from tests.vendors.common import Clock, tiny_png
from tests.vendors.harness import TENCENT, Env, Live, live_fixture, vendor_fixtures
from tests.vendors.live import assert_assets_are_ours
from tests.vendors.tencent import tc3_expected_signature

SECRET_ID, SECRET_KEY = TENCENT.credentials["access_key"], TENCENT.credentials["secret_key"]
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


server, env = vendor_fixtures(TENCENT, queue_s=10, run_s=20)
live_app, live = live_fixture(TENCENT)


def test_poll_schedule_is_quick_for_images_and_a_configured_interval_wins() -> None:
    provider = TENCENT.make_provider("http://127.0.0.1:1", Clock())
    assert provider.poll_delay("text-to-image", 40, 20) == 3.0 and provider.poll_delay("text-to-video", 120, 40) > 3
    fixed = TENCENT.make_provider("http://127.0.0.1:1", poll_interval_s=0.25)
    assert fixed.poll_delay("text-to-image", 40, 20) == fixed.poll_delay("text-to-video", 120, 40) == 0.25


def test_param_models() -> None:
    provider = TENCENT.make_provider("http://127.0.0.1:1", Clock())
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
    job = await env.submit(task_type, params)
    assert env.state.requests[-1]["action"] == action
    states, job = await env.walk(task_type, job)
    assert states == [JobState.queued, JobState.queued, JobState.running, JobState.succeeded]
    assert len(job.outputs) == params.get("num", 1)
    assert (await env.client.get(job.outputs[0].url)).status_code == 200
    if task_type == "image-to-video":
        assert env.state.jobs[job.job_id].body["Image"] == {"Base64": PNG_B64}


async def test_bad_secret_and_skewed_clock_are_auth_errors(env: Env) -> None:
    with pytest.raises(ProviderAuthError) as exc:
        await env.poll("text-to-video", "1", env.make(secret_key="wrong"))
    assert exc.value.provider_code == "AuthFailure.SignatureFailure"
    with pytest.raises(ProviderAuthError) as exc:
        await env.poll("text-to-video", "1", env.make(clock=Clock(env.clock() - 600)))
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
        await env.submit("text-to-image", {"prompt": "x"})
    assert exc.value.provider_code == code and exc.value.retryable is retryable


@pytest.mark.parametrize("task_type", ["text-to-image", "text-to-video"])
async def test_failed_job_maps_its_error_code(env: Env, task_type: str) -> None:
    env.state.outcomes.append("fail")  # output moderation: the conformance suite
    job = await env.finish(task_type, await env.submit(task_type, {"prompt": "x"}))
    assert job.state is JobState.failed and isinstance(job.error, ProviderServerError)


async def test_unknown_job_is_refused(env: Env) -> None:
    with pytest.raises(ProviderInvalidInput, match="JobNotExist"):
        await env.poll("text-to-image", "aiart:nope")


# End to end: the HTTP API, real workers and storage, against the imitation -----------------------------------


def test_e2e_image_to_video(live: Live) -> None:  # images: the conformance suite
    task = live.run("image-to-video", {"image": PNG_B64})
    assert_assets_are_ours(live.client, task, live.state.base_url, "video/mp4")
