"""Vendor conformance: every cloud vendor meets the same contract against its imitation (``tests/vendors/``).

For each vendor (a ``Profile`` below; Volcengine has two APIs, so two profiles):

- auth as the vendor checks it: the imitation verifies the key or signature; a wrong credential is a permanent
  ``ProviderAuthError`` and the vendor creates no job;
- each error class the vendor documents, made by the imitation in the vendor's own shape: rate limit
  (retryable), server error (retryable), invalid input, moderation, insufficient balance (permanent);
- a polled job failed by output moderation carries ``ContentModerated``; an undocumented status and a reply
  missing its fields are ``MalformedReply``; so is a truncated reply or an HTML page, to a submit (never
  retried: the vendor may hold the job) or to a poll;
- end to end through the HTTP API and real workers: a job that never finishes fails at its deadline with a
  permanent ``provider_timeout`` after one attempt, submitted once, and canceled at the vendor where the vendor
  can cancel; a successful job's outputs are re-hosted as our Assets (bytes in our storage, content type sniffed
  from the bytes even when the vendor's CDN says ``application/octet-stream``); an unconfigured vendor is refused
  at submit.

Adding a vendor: its module and registry line, its imitation and ``Vendor`` (``tests/vendors/harness.py``), a
``Profile`` here, and ``tests/test_provider_<name>.py`` for what only it does. A case a vendor does not have must
be listed in its profile's ``not_applicable`` with the reason (``test_profiles_account_for_every_case``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from genpulse.core.errors import (
    ContentModerated,
    InsufficientBalance,
    MalformedReply,
    ProviderAuthError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
)
from genpulse.providers.cloud import CloudProvider, JobState
from genpulse.providers.registry import ENTRIES
from tests.harness import RunningApp, local_args, running_app
from tests.vendors.comfyui import T2I_WORKFLOW
from tests.vendors.common import TRANSPORT_FAULTS, marker, tiny_jpeg
from tests.vendors.harness import (
    BAIDU,
    COMFYUI,
    DASHSCOPE,
    KLING,
    MINIMAX,
    OPENAI,
    TENCENT,
    VENDORS,
    VOLCENGINE,
    Env,
    Vendor,
    app_config,
)
from tests.vendors.live import TERMINAL, assert_assets_are_ours, submit_and_wait

DEADLINE_S = 3.0
ERRORS: dict[str, tuple[type[Exception], bool]] = {  # documented error class -> (our error, retryable)
    "rate_limited": (ProviderRateLimited, True),
    "server_error": (ProviderServerError, True),
    "invalid_input": (ProviderInvalidInput, False),
    "moderated": (ContentModerated, False),
    "insufficient_balance": (InsufficientBalance, False),
}
CASES = ("auth", *ERRORS, "moderated_output", "unknown_status")  # the cases a vendor may not have


@dataclass(frozen=True)
class Job:
    task_type: str
    params: dict[str, Any]
    outputs: int = 1  # outputs a successful job has
    name: str = ""  # its test id, where the task type alone is ambiguous

    def __str__(self) -> str:
        return self.name or self.task_type


@dataclass(frozen=True)
class Fault:
    """How the imitation produces one documented error at submit: a vendor error code pushed onto its ``errors``
    (answered by the next request), or params the vendor refuses."""

    inject: Any = None
    params: dict[str, Any] | None = None
    provider_code: str | None = None  # what the error must carry (None: not checked)
    retry_after: float | None = None  # the Retry-After the vendor sends with it


def code(value: Any, **kwargs: Any) -> Fault:
    return Fault(inject=value, provider_code=str(value), **kwargs)


@dataclass(frozen=True)
class Profile:
    id: str
    vendor: Vendor
    images: tuple[Job, ...]  # jobs with image outputs, run end to end
    polled: tuple[Job, ...]  # asynchronous jobs (submit, then poll); () for a synchronous vendor
    errors: Mapping[str, Fault]
    never_ends: Callable[[str], Job]  # a job whose request carries the given outcome marker
    bad_credentials: Mapping[str, str] | None = None  # config the vendor refuses (None: it has no auth)
    auth_code: str | None = None  # the vendor's code for that refusal
    moderated_output: bool = True  # the vendor can fail a polled job by moderating its output
    never_ending: str = "forever"  # the outcome of never_ends: "forever" (runs on) or "stuck" (stays queued)
    cancels: bool = False  # a job past its deadline is canceled at the vendor
    idle: Callable[[Any], bool] | None = None  # after a cancel: the vendor has stopped working on the job
    submit_path: str | None = None  # the path of the submit request, where the submit sends others first
    missing_fields: Fault | None = None  # a synchronous vendor: how to get a reply missing its fields
    app_config: Mapping[str, Any] = field(default_factory=dict)  # the vendor's config in the running service
    not_applicable: Mapping[str, str] = field(default_factory=dict)  # case -> why the vendor has none

    @property
    def probe(self) -> Job:
        """The job submit-time cases submit."""
        return self.polled[0] if self.polled else self.images[0]

    def covers(self, case: str) -> bool:
        return {
            "auth": self.bad_credentials is not None,
            "moderated_output": bool(self.polled) and self.moderated_output,
            "unknown_status": bool(self.polled),
            "polled": bool(self.polled),
        }.get(case, case in self.errors)


FIRST_FRAME = "https://images.example.com/first.png"
SEEDANCE = "doubao-seedance-1-0-pro-250528"
PROFILES = (
    Profile(
        "kling",
        KLING,
        images=(Job("text-to-image", {"prompt": "a fox", "n": 2}, outputs=2),),
        polled=(Job("text-to-video", {"prompt": "an eagle"}),),
        errors={
            "rate_limited": code(1302),
            "server_error": code(5000),
            "invalid_input": code(1200),
            "moderated": code(1301),
            "insufficient_balance": code(1101),
        },
        never_ends=lambda m: Job("text-to-video", {"prompt": m}),
        bad_credentials={"secret_key": "S" * 32},
        auth_code="1002",
    ),
    Profile(
        "volcengine-visual",
        VOLCENGINE,
        images=(Job("text-to-image", {"prompt": "a red apple"}),),
        polled=(Job("text-to-video", {"model": "jimeng_ti2v_v30_pro", "prompt": "千军万马"}),),
        errors={
            "rate_limited": code(50429),
            "server_error": code(50500),
            "invalid_input": code(50215),
            "moderated": code(50412),
        },
        never_ends=lambda m: Job("text-to-video", {"model": "jimeng_ti2v_v30_pro", "prompt": m}),
        bad_credentials={"secret_key": "wrong"},
        auth_code="SignatureDoesNotMatch",
        not_applicable={"insufficient_balance": "the Visual API documents none (unpaid services answer 50400)"},
    ),
    Profile(
        "volcengine-ark",
        VOLCENGINE,
        images=(Job("text-to-image", {"model": "doubao-seedream-4-0-250828", "prompt": "狗"}),),
        polled=(Job("text-to-video", {"model": SEEDANCE, "prompt": "a fox", "duration": 5}),),
        errors={
            "rate_limited": code("RateLimitExceeded.EndpointRPMExceeded"),
            "server_error": code("InternalServiceError"),
            "invalid_input": code("InvalidParameter"),
            "moderated": code("InputTextSensitiveContentDetected"),
            "insufficient_balance": code("AccountOverdueError"),
        },
        never_ends=lambda m: Job("text-to-video", {"model": SEEDANCE, "prompt": m}),
        never_ending="stuck",  # Ark deletes a task only while it is queued
        cancels=True,
        bad_credentials={"api_key": "bad"},
        auth_code="AuthenticationError",
    ),
    Profile(
        "tencent",
        TENCENT,
        images=(Job("text-to-image", {"prompt": "雨中, 竹林", "num": 2}, outputs=2),),
        polled=(Job("text-to-image", {"prompt": "竹林"}), Job("text-to-video", {"prompt": "一只猫在草原上奔跑"})),
        errors={
            "rate_limited": code("RequestLimitExceeded"),
            "server_error": code("InternalError"),
            "invalid_input": code("InvalidParameterValue.TextLengthExceed"),
            "moderated": code("OperationDenied.TextIllegalDetected"),
            "insufficient_balance": code("ResourceUnavailable.LowBalance"),
        },
        never_ends=lambda m: Job("text-to-video", {"prompt": m}),
        bad_credentials={"secret_key": "wrong"},
        auth_code="AuthFailure.SignatureFailure",
    ),
    Profile(
        "baidu",
        BAIDU,
        images=(Job("text-to-image", {"prompt": "a puppy"}),),
        polled=(Job("image-to-video", {"image": FIRST_FRAME, "prompt": "ink flows"}),),
        errors={
            "rate_limited": code("rpm_rate_limit_exceeded", retry_after=3),
            "server_error": code("internal_error"),
            "invalid_input": code("invalid_argument"),
            "moderated": code("prompt_unsafe"),
            "insufficient_balance": code("account_arrears"),
        },
        never_ends=lambda m: Job("image-to-video", {"image": FIRST_FRAME, "prompt": m}),
        never_ending="stuck",  # Qianfan deletes a task only before it runs
        cancels=True,
        bad_credentials={"api_key": "bce-v3/wrong"},
        auth_code="invalid_iam_token",
    ),
    Profile(
        "minimax",
        MINIMAX,
        images=(Job("text-to-image", {"prompt": "a red panda"}),),
        polled=(Job("text-to-video", {"prompt": "a red panda"}),),
        errors={
            "rate_limited": code(1002),
            "server_error": code(1000),
            "invalid_input": code(2013),
            "moderated": code(1026),
            "insufficient_balance": code(1008),
        },
        never_ends=lambda m: Job("text-to-video", {"prompt": m}),
        bad_credentials={"api_key": "wrong"},
        auth_code="1004",
    ),
    Profile(
        "dashscope",
        DASHSCOPE,
        images=(Job("text-to-image", {"prompt": "a flower shop", "n": 2}, outputs=2),),
        polled=(Job("text-to-image", {"prompt": "a flower shop"}),),
        errors={
            "rate_limited": code("Throttling.RateQuota"),
            "server_error": code("InternalError"),
            "invalid_input": code("InvalidParameter"),
            "moderated": code("DataInspectionFailed"),
            "insufficient_balance": code("Arrearage"),
        },
        never_ends=lambda m: Job("text-to-image", {"prompt": m}),
        never_ending="stuck",  # DashScope cancels a task only while it is PENDING
        cancels=True,
        bad_credentials={"api_key": "sk-wrong"},
        auth_code="InvalidApiKey",
    ),
    Profile(
        "openai",
        OPENAI,
        images=(
            Job("text-to-image", {"prompt": "a fox", "model": "dall-e-2", "n": 2}, outputs=2, name="dall-e-2-urls"),
            Job("text-to-image", {"prompt": "a fox"}, name="gpt-image-1-base64"),
        ),
        polled=(),
        errors={
            "rate_limited": code("rate_limit_exceeded", retry_after=2),
            "server_error": code("server_error"),
            "invalid_input": code("invalid_request_error"),
            "moderated": code("content_policy_violation"),
            "insufficient_balance": code("insufficient_quota"),
        },
        never_ends=lambda m: Job("text-to-image", {"prompt": m, "model": "dall-e-2"}),  # a call never answered
        bad_credentials={"api_key": "sk-wrong"},
        auth_code="invalid_api_key",
        missing_fields=Fault(inject="malformed"),
        app_config={"timeout_s": 5},  # a call never answered ends at the client timeout, after the deadline
        not_applicable={
            "moderated_output": "synchronous: moderation refuses the call itself",
            "unknown_status": "synchronous: a reply has no status",
        },
    ),
    Profile(
        "comfyui",
        COMFYUI,
        images=(Job("text-to-image", {"workflow": T2I_WORKFLOW}),),
        polled=(Job("text-to-image", {"workflow": T2I_WORKFLOW}),),
        errors={
            "server_error": Fault(inject="http_500"),
            "invalid_input": Fault(
                params={"workflow": T2I_WORKFLOW, "inputs": [{"node": "4", "input": "ckpt_name", "value": "no.ckpt"}]},
                provider_code="prompt_outputs_failed_validation",
            ),
        },
        never_ends=lambda m: Job(
            "text-to-image", {"workflow": T2I_WORKFLOW, "inputs": [{"node": "Positive", "input": "text", "value": m}]}
        ),
        cancels=True,  # interrupted while running
        idle=lambda state: state.running is None and not state.pending,
        submit_path="/prompt",
        moderated_output=False,
        not_applicable={
            "auth": "self-hosted: no credentials to send (docs/providers.md §7)",
            "rate_limited": "self-hosted: no rate limits",
            "moderated": "self-hosted: no moderation",
            "moderated_output": "self-hosted: no moderation",
            "insufficient_balance": "self-hosted: nothing to pay",
        },
    ),
)


def each(case: str | None = None, per_job: str | None = None) -> list[Any]:
    """pytest params: every profile (that has ``case``), or each of its ``per_job`` jobs with it."""
    chosen = [p for p in PROFILES if case is None or p.covers(case)]
    if per_job is None:
        return [pytest.param(p, id=p.id) for p in chosen]
    return [pytest.param(p, j, id=f"{p.id}-{j}") for p in chosen for j in getattr(p, per_job)]


def each_error() -> list[Any]:
    return [pytest.param(p, c, id=f"{p.id}-{c}") for p in PROFILES for c in ERRORS if p.covers(c)]


# The imitations, and the whole service configured with every vendor --------------------------------------------


@dataclass
class Gateway:
    imitations: dict[str, tuple[Any, str]]  # vendor name -> (state, URL)
    app: RunningApp
    client: httpx.Client

    def state(self, profile: Profile) -> Any:
        return self.imitations[profile.vendor.name][0]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with contextlib.ExitStack() as stack:
        imitations = {name: stack.enter_context(v.serve(queue_s=0.1, run_s=0.2)) for name, v in VENDORS.items()}
        overrides = {p.vendor.name: p.app_config for p in PROFILES if p.app_config}
        providers = {
            name: app_config(VENDORS[name], url, **overrides.get(name, {})) for name, (_, url) in imitations.items()
        }
        args = local_args(tmp_path_factory.mktemp("gateway"), providers=providers)
        app = stack.enter_context(running_app(args))
        client = stack.enter_context(httpx.Client(base_url=app.url, timeout=30))
        yield Gateway(imitations, app, client)


@pytest.fixture
async def env(gateway: Gateway, profile: Profile) -> AsyncIterator[Env]:
    state, url = gateway.imitations[profile.vendor.name]
    state.reset()
    async with httpx.AsyncClient(timeout=10) as client:
        yield Env(profile.vendor, state, url, client, profile.vendor.make_provider(url, state.clock))


async def submit(env: Env, job: Job, provider: CloudProvider | None = None) -> Any:
    return await env.submit(job.task_type, job.params, provider)


async def run_to_end(env: Env, job: Job) -> Any:
    """Submit and poll until the job ends (the imitation's clock jumps past its outcome before each poll)."""
    vendor_job = await submit(env, job)
    deadline = time.monotonic() + 30
    while not vendor_job.state.is_terminal:
        assert time.monotonic() < deadline, f"{job} still {vendor_job.state}"
        vendor_job = await env.finish(job.task_type, vendor_job)
    return vendor_job


def test_every_cloud_vendor_has_a_profile() -> None:
    cloud = {name for name, entry in ENTRIES.items() if issubclass(entry.provider, CloudProvider)}
    assert {p.vendor.name for p in PROFILES} == cloud == set(VENDORS)


@pytest.mark.parametrize("profile", each())
def test_profiles_account_for_every_case(profile: Profile) -> None:
    for case in CASES:
        assert profile.covers(case) != (case in profile.not_applicable), (profile.id, case)
    assert set(profile.not_applicable) <= set(CASES) and set(profile.errors) <= set(ERRORS)


# Direct: the provider client against its imitation ---------------------------------------------------------------


@pytest.mark.parametrize("profile", each("auth"))
async def test_wrong_credentials_are_a_permanent_auth_error(env: Env, profile: Profile) -> None:
    assert profile.bad_credentials is not None
    before = len(env.state.jobs)
    with pytest.raises(ProviderAuthError) as exc:
        await submit(env, profile.probe, env.make(**profile.bad_credentials))
    assert type(exc.value) is ProviderAuthError and exc.value.retryable is False
    assert exc.value.provider_code == profile.auth_code
    assert len(env.state.jobs) == before  # refused by the vendor: no job
    await submit(env, profile.probe)  # the right credentials pass the same check
    assert len(env.state.jobs) == before + 1


@pytest.mark.parametrize(("profile", "category"), each_error())
async def test_documented_errors_are_mapped(env: Env, profile: Profile, category: str) -> None:
    fault, (cls, retryable) = profile.errors[category], ERRORS[category]
    if fault.inject is not None:
        env.state.errors.append(fault.inject)
    before = len(env.state.jobs)
    with pytest.raises(cls) as exc:
        await env.submit(profile.probe.task_type, fault.params or profile.probe.params)
    assert type(exc.value) is cls and exc.value.retryable is retryable, exc.value
    if fault.provider_code is not None:
        assert exc.value.provider_code == fault.provider_code
    if fault.retry_after is not None:
        assert exc.value.retry_after == fault.retry_after
    assert len(env.state.jobs) == before  # the vendor took no job


@pytest.mark.parametrize(("profile", "job"), each("moderated_output", per_job="polled"))
async def test_moderated_output_fails_the_job(env: Env, profile: Profile, job: Job) -> None:
    env.state.outcomes.append("moderated")
    done = await run_to_end(env, job)
    assert done.state is JobState.failed and type(done.error) is ContentModerated, done


@pytest.mark.parametrize(("profile", "job"), each("unknown_status", per_job="polled"))
async def test_unknown_status_is_a_malformed_reply(env: Env, profile: Profile, job: Job) -> None:
    env.state.outcomes.append("unknown")
    with pytest.raises(MalformedReply) as exc:
        await run_to_end(env, job)
    assert exc.value.provider_code and exc.value.provider_code in exc.value.message  # names what it did not know


@pytest.mark.parametrize("profile", each())
async def test_reply_missing_its_fields_is_malformed(env: Env, profile: Profile) -> None:
    for job in profile.polled or profile.images:
        if profile.polled:  # a finished job without its outputs
            env.state.outcomes.append("malformed")
        else:
            assert profile.missing_fields is not None
            env.state.errors.append(profile.missing_fields.inject)
        with pytest.raises(MalformedReply):
            await run_to_end(env, job)


@pytest.mark.parametrize("kind", TRANSPORT_FAULTS)
@pytest.mark.parametrize("profile", each())
async def test_garbled_submit_reply_is_malformed_and_not_retried(env: Env, profile: Profile, kind: str) -> None:
    env.state.inject(kind, profile.submit_path)
    with pytest.raises(MalformedReply) as exc:
        await submit(env, profile.probe)
    assert exc.value.retryable is False  # the vendor may hold the job: never submit it twice
    assert not env.state.faults


@pytest.mark.parametrize("kind", TRANSPORT_FAULTS)
@pytest.mark.parametrize(("profile", "job"), each("polled", per_job="polled"))
async def test_garbled_poll_reply_is_malformed(env: Env, profile: Profile, job: Job, kind: str) -> None:
    vendor_job = await submit(env, job)
    env.state.inject(kind)
    with pytest.raises(MalformedReply):
        await env.poll(job.task_type, vendor_job.job_id)
    assert not env.state.faults
    await env.poll(job.task_type, vendor_job.job_id)  # the next reply is whole again


# End to end: the HTTP API and real workers ----------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float = 10, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.02)


@dataclass
class Outlived:
    task: dict[str, Any]
    jobs: list[Any]  # the vendor's jobs made for it


def vendor_jobs(state: Any, tag: str) -> list[Any]:
    return [j for j in state.jobs.values() if tag in json.dumps(j.body, ensure_ascii=False)]


@pytest.fixture(scope="module")
def outlived(gateway: Gateway) -> dict[str, Outlived]:
    """Every profile's never-ending job, submitted at once with a deadline (they run concurrently), each ended.

    A task whose deadline passed before its job reached the vendor (a machine too loaded for the deadline) says
    nothing about the vendor: it is submitted again with twice the deadline.
    """
    for state, _ in gateway.imitations.values():
        state.reset()
    ended: dict[str, Outlived] = {}
    for attempt, deadline_s in enumerate((DEADLINE_S, DEADLINE_S * 2, DEADLINE_S * 4, DEADLINE_S * 8)):
        submitted = {}
        for profile in [p for p in PROFILES if p.id not in ended]:
            tag = f"{marker(profile.never_ending)} deadline of {profile.id} (round {attempt})"
            job = profile.never_ends(tag)
            body = {"provider": profile.vendor.name, "task_type": job.task_type, "params": job.params}
            r = gateway.client.post("/v1/tasks", json={**body, "deadline_s": deadline_s})
            assert r.status_code == 202, r.text
            submitted[profile.id] = (profile, r.json()["id"], tag)
        for profile, task_id, tag in submitted.values():
            give_up = time.monotonic() + deadline_s + 30
            task = gateway.client.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
            while task["status"] not in TERMINAL and time.monotonic() < give_up:
                task = gateway.client.get(f"/v1/tasks/{task_id}", params={"wait": 10}).json()
            jobs = vendor_jobs(gateway.state(profile), tag)
            if jobs or task["status"] != "failed" or attempt == 3:
                ended[profile.id] = Outlived(task, jobs)
        if len(ended) == len(PROFILES):
            break
    return ended


@pytest.mark.parametrize("profile", each())
def test_a_job_outliving_its_deadline_fails_and_is_let_go(
    gateway: Gateway, outlived: dict[str, Outlived], profile: Profile
) -> None:
    task, jobs = outlived[profile.id].task, outlived[profile.id].jobs
    assert task["status"] == "failed" and task["attempts"] == 1, task
    assert task["error"]["type"] == "provider_timeout" and task["error"]["retryable"] is False
    assert len(jobs) == 1, "the vendor got the job once, and only once"
    state = gateway.state(profile)
    if profile.polled:  # the job id was checkpointed before the first poll
        assert profile.vendor.job_key(task["provider_task_id"]) == jobs[0].id
    if profile.cancels:
        wait_for(lambda: jobs[0].canceled, message=f"{profile.id} job canceled at the vendor")
    if profile.idle is not None:
        wait_for(lambda: profile.idle(state), message=f"{profile.id} idle")


@pytest.mark.parametrize(("profile", "job"), each(per_job="images"))
def test_outputs_are_rehosted_as_our_assets(gateway: Gateway, profile: Profile, job: Job) -> None:
    state = gateway.state(profile)
    state.reset()
    state.image_payload = payload = tiny_jpeg()  # a JPEG, whatever the URL or the CDN's header says
    state.file_content_type = "application/octet-stream"
    listed = {p["name"]: p for p in gateway.client.get("/v1/providers").json()["data"]}[profile.vendor.name]
    assert listed["configured"] is True and job.task_type in listed["task_types"]
    r = gateway.client.get(f"/meta/schemas/{profile.vendor.name}")
    schema = r.json()["task_types"][job.task_type]
    assert r.status_code == 200 and ("properties" in schema or "oneOf" in schema)  # volcengine: one per API
    body = {"provider": profile.vendor.name, "task_type": job.task_type, "params": job.params}
    task = submit_and_wait(gateway.client, body)
    assert_assets_are_ours(gateway.client, task, state.base_url, "image/jpeg")
    assert task["attempts"] == 1 and len(task["result"]["assets"]) == job.outputs
    storage = gateway.app.runtime.wiring.storage
    for asset in task["result"]["assets"]:
        assert gateway.client.get(asset["url"]).content == payload
        assert storage.read(asset["id"]) == payload and storage.get(asset["id"]).content_type == "image/jpeg"


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The service with no vendor configured."""
    with running_app(local_args(tmp_path_factory.mktemp("bare"))) as app, httpx.Client(base_url=app.url) as client:
        yield client


@pytest.mark.parametrize("profile", each())
def test_an_unconfigured_vendor_is_refused_at_submit(bare: httpx.Client, profile: Profile) -> None:
    job = profile.probe
    r = bare.post("/v1/tasks", json={"provider": profile.vendor.name, "task_type": job.task_type, "params": job.params})
    assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured", r.text
    listing = {p["name"]: p for p in bare.get("/v1/providers").json()["data"]}
    assert listing[profile.vendor.name]["configured"] is False
