"""ComfyUI client against its imitation: prompt, websocket progress, /history fallback, errors, cancel, servers.

What every vendor does (each error class, odd replies, deadline, re-hosting) is in
``tests/test_vendor_conformance.py``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json

import pytest

from genpulse.core.config import AppArgs
from genpulse.core.errors import (
    ExecutionError,
    InvalidRequest,
    ProviderInvalidInput,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState, VendorJob
from genpulse.providers.vendors.comfyui import ComfyUIProvider
from tests.conftest import free_port
from tests.vendors.comfyui import I2V_WORKFLOW as I2V
from tests.vendors.comfyui import T2I_WORKFLOW as T2I
from tests.vendors.common import FAKE_MP4, tiny_png
from tests.vendors.harness import COMFYUI, Env, vendor_fixtures

PNG_B64 = base64.b64encode(tiny_png()).decode()

server, env = vendor_fixtures(COMFYUI)


def provider(*servers: str, timeout_s: float = 5) -> ComfyUIProvider:
    return COMFYUI.make_provider(servers[0], servers=list(servers), timeout_s=timeout_s)


async def submit(env: Env, task_type: str = "text-to-image", p: ComfyUIProvider | None = None, **params) -> VendorJob:
    return await env.submit(task_type, {"workflow": T2I, **params}, p)


async def until_done(env: Env, job: VendorJob, p: ComfyUIProvider | None = None, limit: int = 40) -> list[VendorJob]:
    seen = []
    for _ in range(limit):
        job = await env.poll("text-to-image", job.job_id, p)
        seen.append(job)
        if job.state.is_terminal:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {job.state} after {limit} polls")


async def test_success_with_websocket_progress(env: Env) -> None:
    job = await submit(env, inputs=[{"node": "Positive", "input": "text", "value": "a dog"},
                                    {"node": "3", "input": "seed", "value": 42}])  # fmt: skip
    assert job.state is JobState.queued and env.url not in job.job_id
    sent = env.state.requests[-1]
    assert sent["prompt"]["6"]["inputs"]["text"] == "a dog" and sent["prompt"]["3"]["inputs"]["seed"] == 42
    assert job.job_id.split(":")[1] == sent["prompt_id"] and job.job_id.split(":")[2] == sent["client_id"]
    seen = await until_done(env, job)
    assert any(j.progress is not None and 0 < j.progress <= 100 for j in seen)
    done = seen[-1]
    assert done.state is JobState.succeeded
    (out,) = done.outputs  # the temp preview is left out when a file was saved
    assert out.kind == "image" and out.content_type == "image/png" and "/view?" in out.url and "type=output" in out.url
    assert (await env.client.get(out.url)).content == tiny_png()


async def test_image_to_video_uploads_its_input_and_finds_video_outputs(env: Env) -> None:
    job = await submit(env, "image-to-video", workflow=I2V,
                       images=[{"node": "First frame", "image": f"data:image/png;base64,{PNG_B64}"}])  # fmt: skip
    uploaded = env.state.requests[-1]["prompt"]["1"]["inputs"]["image"]
    assert uploaded.startswith("genpulse-") and env.state.files[("input", "", uploaded)] == tiny_png()
    done = (await until_done(env, job))[-1]
    (out,) = done.outputs
    assert out.kind == "video" and out.content_type == "video/mp4" and "subfolder=video" in out.url
    assert (await env.client.get(out.url)).content == FAKE_MP4


@pytest.mark.parametrize("outcome", ["cached", "cached_empty", "legacy"])
async def test_cached_and_legacy_runs_succeed_with_outputs(env: Env, outcome) -> None:
    env.state.outcomes.append(outcome)
    seen = await until_done(env, await submit(env))
    assert seen[-1].state is JobState.succeeded and len(seen[-1].outputs) == 1
    if outcome.startswith("cached"):
        assert all(j.progress in (None, 99.0, 100.0) for j in seen)  # no sampler ran


async def test_history_fallback_without_websocket(env: Env) -> None:
    env.state.ws_enabled, env.state.held = False, True
    job = await submit(env)
    assert (await env.poll("text-to-image", job.job_id)).state is JobState.queued
    env.state.held = False
    assert (await until_done(env, job))[-1].state is JobState.succeeded


async def test_execution_error_fails_the_job(env: Env) -> None:
    env.state.outcomes.append("error")
    done = (await until_done(env, await submit(env)))[-1]
    assert done.state is JobState.failed and isinstance(done.error, ExecutionError)
    assert done.error.provider_code == "RuntimeError" and "KSampler" in done.error.message


async def test_cancel_interrupts_a_running_prompt_and_deletes_a_pending_one(env: Env) -> None:
    env.state.outcomes.extend(["forever", "succeed"])
    running, pending = await submit(env), await submit(env)
    for _ in range(50):
        if env.state.running is not None:
            break
        await asyncio.sleep(0.02)
    env.state.held = True  # keep the second one pending once the first stops
    assert await env.provider.cancel(env.client, "text-to-image", pending.job_id) is True
    assert not env.state.pending
    assert await env.provider.cancel(env.client, "text-to-image", running.job_id) is True
    assert env.state.interrupts[-1] == {"prompt_id": running.job_id.split(":")[1]}
    done = (await until_done(env, running))[-1]
    assert done.state is JobState.canceled and done.error.provider_code == "execution_interrupted"
    assert await env.provider.cancel(env.client, "text-to-image", running.job_id) is False


async def test_a_lost_prompt_fails_retryably(env: Env) -> None:
    env.state.outcomes.append("lost")
    done = (await until_done(env, await submit(env)))[-1]
    assert done.state is JobState.failed and isinstance(done.error, ProviderServerError) and done.error.retryable
    assert (await env.poll("text-to-image", "unknownkey:x:y")).state is JobState.failed


async def test_prompt_validation_errors_name_the_node(env: Env) -> None:
    bad = copy.deepcopy(T2I)
    bad["4"]["inputs"]["ckpt_name"] = "missing.safetensors"
    with pytest.raises(ProviderInvalidInput) as info:
        await submit(env, workflow=bad)
    assert info.value.provider_code == "prompt_outputs_failed_validation" and "missing.safetensors" in str(info.value)
    with pytest.raises(ProviderInvalidInput) as info:
        await submit(env, workflow={"1": {"class_type": "NoSuchNode", "inputs": {}}})
    assert info.value.provider_code == "invalid_prompt"


async def test_server_errors_and_timeouts(env: Env) -> None:
    p = env.make(timeout_s=0.5)
    job = await submit(env, p=p)
    env.state.errors.append("http_500")  # on a submit: the conformance suite
    with pytest.raises(ProviderServerError):
        await env.poll("text-to-image", job.job_id, p)
    env.state.errors.append("slow")
    with pytest.raises(ProviderTimeout):
        await env.poll("text-to-image", job.job_id, p)


async def test_least_busy_reachable_server_is_chosen(env: Env) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with COMFYUI.serve() as (other, second):
        env.state.held = True
        await submit(env)  # the first server now has a queue
        job = await submit(env, p=provider(dead, env.url, second))
        assert other.requests and job.job_id.split(":")[1] == other.requests[-1]["prompt_id"]
    with pytest.raises(ProviderServerError) as info:
        await submit(env, p=provider(dead))
    assert info.value.details["request_sent"] is False


def test_params_and_configuration() -> None:
    p = provider("http://127.0.0.1:9")
    for task_type, bad in (
        ("text-to-image", {"workflow": {}}),
        ("text-to-image", {"workflow": {"1": {"inputs": {}}}}),
        ("text-to-image", {"inputs": [{"node": "nope", "input": "text", "value": "x"}]}),
        ("text-to-image", {"server": "http://10.0.0.1:8188"}),
        ("image-to-video", {"workflow": I2V}),
        ("image-to-video", {"workflow": I2V, "images": [{"node": "1", "image": "not base64!"}]}),
    ):
        with pytest.raises(InvalidRequest):
            p.validate(task_type, {"workflow": T2I, **bad})
    assert p.is_configured() and not ComfyUIProvider(AppArgs.load({})).is_configured()
    assert "workflow" in json.dumps(p.schemas()["text-to-image"])
