"""VolcEngine client (Visual API + Ark) against the imitation: the signing vector, both APIs, each error code.

What every vendor does (auth, each error class, odd replies, deadline, re-hosting) is in
``tests/test_vendor_conformance.py``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.errors import (
    ContentModerated,
    InsufficientBalance,
    InvalidRequest,
    MalformedReply,
    ProviderAuthError,
    ProviderInvalidInput,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState
from genpulse.providers.request_signing import canonical_request, sha256_hex, volc_sign, volc_signature
from tests.harness import local_args, running_app
from tests.vendors.common import Clock, tiny_png
from tests.vendors.harness import VOLCENGINE, Env, Live, live_fixture, vendor_fixtures
from tests.vendors.live import assert_assets_are_ours
from tests.vendors.volcengine import volc_expected_signature

AK, SK = VOLCENGINE.credentials["access_key"], VOLCENGINE.credentials["secret_key"]
SEEDANCE = "doubao-seedance-1-0-pro-250528"
VECTOR_BODY = b'{"req_key":"jimeng_t2i_v40","prompt":"a red apple on a wooden table","width":2048,"height":2048}'
VECTOR_HASH = "7643bcd95dd1df95fbb706165564d504c1d9579c008045ef0bcadad96a42ff64"
VECTOR_CREQ = (
    f"POST\n/\nAction=CVSync2AsyncSubmitTask&Version=2022-08-31\ncontent-type:application/json\n"
    f"host:visual.volcengineapi.com\nx-content-sha256:{VECTOR_HASH}\nx-date:20250102T030405Z\n\n"
    f"content-type;host;x-content-sha256;x-date\n{VECTOR_HASH}"
)
VECTOR_STS = (
    "HMAC-SHA256\n20250102T030405Z\n20250102/cn-north-1/cv/request\n"
    "02675ea566bd0e35c6d9e501face02703a710568f28f49f86ddea5c72b7fb84c"
)
VECTOR_AUTH = (
    "HMAC-SHA256 Credential=AKLTtestaccesskey000000000000/20250102/cn-north-1/cv/request, "
    "SignedHeaders=content-type;host;x-content-sha256;x-date, "
    "Signature=8021eb8246ceeff117629505a70c39a4336f23bf82711fa15ff4a7d27148593a"
)
PNG_B64 = base64.b64encode(tiny_png()).decode()


def test_volc_signature_matches_published_vector() -> None:
    assert sha256_hex(VECTOR_BODY) == VECTOR_HASH
    headers = {
        "content-type": "application/json",
        "host": "visual.volcengineapi.com",
        "x-content-sha256": VECTOR_HASH,
        "x-date": "20250102T030405Z",
    }
    query = "Action=CVSync2AsyncSubmitTask&Version=2022-08-31"
    creq = canonical_request("POST", "/", query, headers, sorted(headers), VECTOR_BODY)
    assert creq == VECTOR_CREQ
    sts, signature = volc_signature(SK, "20250102T030405Z", "cn-north-1", "cv", creq)
    assert sts == VECTOR_STS
    assert volc_expected_signature(SK, "20250102T030405Z", "cn-north-1", "cv", creq) == signature
    signed = volc_sign(
        access_key=AK,
        secret_key=SK,
        region="cn-north-1",
        service="cv",
        host="visual.volcengineapi.com",
        query={"Version": "2022-08-31", "Action": "CVSync2AsyncSubmitTask"},
        body=VECTOR_BODY,
        now=1735787045,
    )
    assert signed["authorization"] == VECTOR_AUTH
    assert signed["x-date"] == "20250102T030405Z" and signed["x-content-sha256"] == VECTOR_HASH


server, env = vendor_fixtures(VOLCENGINE, queue_s=10, run_s=20)
live_app, live = live_fixture(VOLCENGINE)


def test_a_configured_poll_interval_wins() -> None:
    assert VOLCENGINE.make_provider("http://127.0.0.1:1", Clock()).poll_delay("text-to-image", 40, 20) == 3.0
    fixed = VOLCENGINE.make_provider("http://127.0.0.1:1", Clock(), poll_interval_s=0.25)
    assert fixed.poll_delay("text-to-image", 40, 20) == fixed.poll_delay("image-to-video", 120, 40) == 0.25


def test_model_picks_the_api_and_credentials_are_checked() -> None:
    visual_only = VOLCENGINE.make_provider("http://127.0.0.1:1", Clock(), api_key=None)
    assert visual_only.is_configured()
    visual_only.validate("text-to-image", {"prompt": "x"})  # default model: Jimeng on the Visual API
    with pytest.raises(ProviderNotConfigured):
        visual_only.validate("text-to-image", {"prompt": "x", "model": "doubao-seedream-4-0-250828"})
    nothing = VOLCENGINE.make_provider("http://127.0.0.1:1", Clock(), api_key=None, access_key=None)
    assert not nothing.is_configured()
    with pytest.raises(InvalidRequest) as exc:
        visual_only.validate("text-to-image", {"prompt": "x", "width": 2048})
    assert "width and height" in exc.value.message
    with pytest.raises(InvalidRequest) as exc:
        visual_only.validate("text-to-video", {"model": SEEDANCE, "duration": 99})
    assert {d["field"] for d in exc.value.details} == {"params.prompt", "params.duration"}
    schema = visual_only.schemas()["image-to-video"]
    assert {"VisualImageToVideo", "ArkImageToVideo"} <= set(schema["$defs"])


@pytest.mark.parametrize(
    ("task_type", "params", "valid"),
    [
        ("text-to-image", {"prompt": "x"}, True),
        ("text-to-image", {"model": "doubao-seedream-4-0-250828", "prompt": "x"}, True),
        ("text-to-image", {"model": "doubao-seedream-4-0-250828", "prompt": "x", "scale": 0.5}, False),
        ("image-to-video", {"model": "ep-20250101-abc", "image": "https://example.com/a.png"}, True),
        ("text-to-video", {"model": "jimeng_ti2v_v30_pro", "prompt": "x", "duration": 5}, False),
    ],
)
def test_json_schema_agrees_with_validation(task_type: str, params: dict, valid: bool) -> None:
    """The published schema's oneOf branches never overlap, so a JSON Schema validator (a form) agrees with us."""
    jsonschema = pytest.importorskip("jsonschema")
    provider = VOLCENGINE.make_provider("http://127.0.0.1:1", Clock())
    schema_ok = jsonschema.Draft202012Validator(provider.schemas()[task_type]).is_valid(params)
    try:
        provider.validate(task_type, params)
        ours_ok = True
    except InvalidRequest:
        ours_ok = False
    assert schema_ok is ours_ok is valid


@pytest.mark.parametrize(
    ("task_type", "params", "kind"),
    [
        ("text-to-image", {"prompt": "a red apple", "width": 2048, "height": 2048}, "image"),
        ("text-to-video", {"prompt": "千军万马", "frames": 241, "aspect_ratio": "9:16"}, "video"),
        ("image-to-video", {"image": f"data:image/png;base64,{PNG_B64}"}, "video"),
    ],
)
async def test_visual_jobs_succeed(env: Env, task_type: str, params: dict, kind: str) -> None:
    job = await env.submit(task_type, params)
    req_key = env.state.requests[-1]["body"]["req_key"]
    assert job.job_id.startswith(req_key + ":")
    states, job = await env.walk(task_type, job)
    assert states == [JobState.queued, JobState.queued, JobState.running, JobState.succeeded]
    assert job.outputs[0].kind == kind
    assert (await env.client.get(job.outputs[0].url)).status_code == 200
    poll_body = env.state.requests[-1]["body"]
    assert poll_body["req_json"] == '{"return_url": true}'
    if task_type == "image-to-video":
        assert env.state.requests[-4]["body"]["binary_data_base64"] == [PNG_B64]


async def test_seedream_images_are_synchronous(env: Env) -> None:
    job = await env.submit("text-to-image", {"model": "doubao-seedream-4-0-250828", "prompt": "狗", "size": "2K"})
    assert job.state is JobState.succeeded and job.outputs[0].url
    sent = env.state.requests[-1]["body"]
    assert sent["response_format"] == "url" and sent["watermark"] is False and "images" not in sent


@pytest.mark.parametrize(
    ("task_type", "params"),
    [
        ("text-to-video", {"model": SEEDANCE, "prompt": "a fox", "duration": 5}),
        ("image-to-video", {"model": SEEDANCE, "image": "https://example.com/f.jpg"}),
    ],
)
async def test_seedance_tasks_succeed(env: Env, task_type: str, params: dict) -> None:
    job = await env.submit(task_type, params)
    assert job.job_id.startswith("cgt-")
    sent = env.state.requests[-1]["body"]
    if task_type == "image-to-video":
        assert sent["content"] == [
            {"type": "image_url", "image_url": {"url": "https://example.com/f.jpg"}, "role": "first_frame"}
        ]
    else:
        assert sent["duration"] == 5 and sent["content"] == [{"type": "text", "text": "a fox"}]
    states, job = await env.walk(task_type, job)
    assert states == [JobState.queued, JobState.queued, JobState.running, JobState.succeeded]
    assert (await env.client.get(job.outputs[0].url)).headers["content-type"] == "video/mp4"


async def test_seedance_cancel(env: Env) -> None:
    job = await env.submit("text-to-video", {"model": SEEDANCE, "prompt": "x"})
    assert await env.provider.cancel(env.client, "text-to-video", job.job_id)
    assert (await env.poll("text-to-video", job.job_id)).state is JobState.canceled


async def test_visual_auth_failures(env: Env) -> None:
    with pytest.raises(ProviderAuthError) as exc:
        await env.poll("text-to-image", "jimeng_t2i_v40:1", env.make(secret_key="wrong"))
    assert exc.value.provider_code == "SignatureDoesNotMatch"
    with pytest.raises(ProviderAuthError):
        await env.poll("text-to-image", "jimeng_t2i_v40:1", env.make(clock=Clock(env.clock() - 3600)))
    with pytest.raises(ProviderAuthError) as exc:
        await env.poll("text-to-video", "cgt-1", env.make(api_key="bad"))
    assert exc.value.provider_code == "AuthenticationError"


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        (50411, ContentModerated, False),
        (50412, ContentModerated, False),
        (50511, ContentModerated, False),  # moderation is never retryable (issue 12)
        (50429, ProviderRateLimited, True),
        (50430, ProviderRateLimited, True),
        (50500, ProviderServerError, True),
        (50520, ProviderServerError, False),
        (50215, ProviderInvalidInput, False),
        (50400, ProviderAuthError, False),
        ("SignatureDoesNotMatch", ProviderAuthError, False),
    ],
)
async def test_visual_error_codes(env: Env, code: Any, error: type, retryable: bool) -> None:
    env.state.errors.append(code)
    with pytest.raises(error) as exc:
        await env.submit("text-to-image", {"prompt": "x"})
    assert exc.value.provider_code == str(code) and exc.value.retryable is retryable


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        ("AccountOverdueError", InsufficientBalance, False),
        ("AccessDenied", ProviderAuthError, False),
        ("InputTextSensitiveContentDetected", ContentModerated, False),
        ("InvalidParameter", ProviderInvalidInput, False),
        ("InvalidEndpointOrModel.NotFound", ProviderInvalidInput, False),
        ("RateLimitExceeded.EndpointRPMExceeded", ProviderRateLimited, True),
        ("QuotaExceeded", ProviderRateLimited, True),
        ("InternalServiceError", ProviderServerError, True),
        ("ServerOverloaded", ProviderServerError, True),
    ],
)
async def test_ark_error_codes(env: Env, code: str, error: type, retryable: bool) -> None:
    env.state.errors.append(code)
    with pytest.raises(error) as exc:
        await env.submit("text-to-video", {"model": SEEDANCE, "prompt": "x"})
    assert exc.value.provider_code == code and exc.value.retryable is retryable


@pytest.mark.parametrize(  # output moderation: the conformance suite
    ("model", "outcome", "error"),
    [
        ("jimeng_ti2v_v30_pro", "expired", ProviderServerError),
        (SEEDANCE, "fail", ProviderServerError),
        (SEEDANCE, "expired", ProviderTimeout),
    ],
)
async def test_failed_jobs(env: Env, model: str, outcome: str, error: type) -> None:
    env.state.outcomes.append(outcome)
    job = await env.finish("text-to-video", await env.submit("text-to-video", {"model": model, "prompt": "x"}))
    assert job.state is JobState.failed and isinstance(job.error, error)


async def test_visual_internal_error_on_poll_is_a_retryable_poll_error(env: Env) -> None:
    env.state.outcomes.append("fail")
    job = await env.submit("text-to-image", {"prompt": "x"})
    with pytest.raises(ProviderServerError) as exc:
        await env.finish("text-to-image", job)
    assert exc.value.retryable


async def test_malformed_seedream_reply(env: Env) -> None:
    env.state.outcomes.append("malformed")
    with pytest.raises(MalformedReply):
        await env.submit("text-to-image", {"model": "doubao-seedream-4-0-250828", "prompt": "x"})


# End to end: the HTTP API, real workers and storage, against the imitation -----------------------------------


def test_e2e_video_is_stored_as_our_asset(live: Live) -> None:
    task = live.run("image-to-video", {"model": SEEDANCE, "image": PNG_B64})  # images: the conformance suite
    assert_assets_are_ours(live.client, task, live.state.base_url, "video/mp4")


def test_e2e_api_without_credentials_is_refused_at_submit(live: Live, tmp_path: Path) -> None:
    volc = {"endpoints": {"visual": live.state.base_url}, "access_key": AK, "secret_key": SK}
    with running_app(local_args(tmp_path, providers={"volcengine": volc})) as app:
        params = {"model": "doubao-seedream-4-0-250828", "prompt": "x"}
        body = {"provider": "volcengine", "task_type": "text-to-image", "params": params}
        r = httpx.post(f"{app.url}/v1/tasks", json=body)
        assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"
