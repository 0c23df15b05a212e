"""ComfyUI client against its imitation: prompt, websocket progress, /history fallback, errors, cancel, e2e."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from genpulse.core.config import AppArgs
from genpulse.core.errors import (
    ExecutionError,
    InvalidRequest,
    MalformedReply,
    ProviderInvalidInput,
    ProviderServerError,
    ProviderTimeout,
)
from genpulse.providers.cloud import JobState, VendorJob
from genpulse.providers.vendors.comfyui import ComfyUIProvider
from tests.conftest import free_port
from tests.vendors.comfyui import ComfyState, build_app
from tests.vendors.common import FAKE_MP4, tiny_png
from tests.vendors.e2e import outlive_deadline, submit_and_finish, unconfigured_submit
from tests.vendors.server import serve_asgi

PNG_B64 = base64.b64encode(tiny_png()).decode()
T2I = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]},
          "_meta": {"title": "Positive"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 4, "model": ["4", 0], "positive": ["6", 0],
                                               "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
}  # fmt: skip
I2V = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}, "_meta": {"title": "First frame"}},
    "3": {"class_type": "KSampler", "inputs": {"steps": 2, "latent_image": ["1", 0]}},
    "7": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["3", 0], "frame_rate": 8}},
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ComfyState, str]]:
    state = ComfyState()
    with serve_asgi(build_app(state)) as url:
        yield state, url


@pytest.fixture
def state(server: tuple[ComfyState, str]) -> ComfyState:
    s = server[0]
    s.errors.clear(), s.outcomes.clear(), s.pending.clear()
    s.held, s.ws_enabled = False, True
    return s


def provider(*servers: str, timeout_s: float = 5) -> ComfyUIProvider:
    p = ComfyUIProvider(AppArgs.load({"providers": {"comfyui": {"servers": list(servers), "timeout_s": timeout_s}}}))
    p.ws_window_s = 0.5
    return p


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def submit(p: ComfyUIProvider, client: httpx.AsyncClient, task_type: str = "text-to-image", **params):
    values = {"workflow": T2I, **params}
    return await p.submit(client, task_type, p.validate(task_type, values))


async def until_done(p: ComfyUIProvider, client: httpx.AsyncClient, job: VendorJob, limit: int = 40) -> list[VendorJob]:
    seen = []
    for _ in range(limit):
        job = await p.poll(client, "text-to-image", job.job_id)
        seen.append(job)
        if job.state.is_terminal:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {job.state} after {limit} polls")


async def test_success_with_websocket_progress(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client, inputs=[{"node": "Positive", "input": "text", "value": "a dog"},
                                          {"node": "3", "input": "seed", "value": 42}])  # fmt: skip
    assert job.state is JobState.queued and server[1] not in job.job_id
    sent = state.requests[-1]
    assert sent["prompt"]["6"]["inputs"]["text"] == "a dog" and sent["prompt"]["3"]["inputs"]["seed"] == 42
    assert job.job_id.split(":")[1] == sent["prompt_id"] and job.job_id.split(":")[2] == sent["client_id"]
    seen = await until_done(p, client, job)
    assert any(j.progress is not None and 0 < j.progress <= 100 for j in seen)
    done = seen[-1]
    assert done.state is JobState.succeeded
    (out,) = done.outputs  # the temp preview is left out when a file was saved
    assert out.kind == "image" and out.content_type == "image/png" and "/view?" in out.url and "type=output" in out.url
    assert (await client.get(out.url)).content == tiny_png()


async def test_image_to_video_uploads_its_input_and_finds_video_outputs(server, state, client) -> None:
    p = provider(server[1])
    job = await submit(p, client, "image-to-video", workflow=I2V,
                       images=[{"node": "First frame", "image": f"data:image/png;base64,{PNG_B64}"}])  # fmt: skip
    uploaded = state.requests[-1]["prompt"]["1"]["inputs"]["image"]
    assert uploaded.startswith("genpulse-") and state.files[("input", "", uploaded)] == tiny_png()
    done = (await until_done(p, client, job))[-1]
    (out,) = done.outputs
    assert out.kind == "video" and out.content_type == "video/mp4" and "subfolder=video" in out.url
    assert (await client.get(out.url)).content == FAKE_MP4


@pytest.mark.parametrize("outcome", ["cached", "cached_empty", "legacy"])
async def test_cached_and_legacy_runs_succeed_with_outputs(server, state, client, outcome) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    seen = await until_done(p, client, await submit(p, client))
    assert seen[-1].state is JobState.succeeded and len(seen[-1].outputs) == 1
    if outcome.startswith("cached"):
        assert all(j.progress in (None, 99.0, 100.0) for j in seen)  # no sampler ran


async def test_history_fallback_without_websocket(server, state, client) -> None:
    state.ws_enabled, state.held = False, True
    p = provider(server[1])
    job = await submit(p, client)
    assert (await p.poll(client, "text-to-image", job.job_id)).state is JobState.queued
    state.held = False
    assert (await until_done(p, client, job))[-1].state is JobState.succeeded


async def test_execution_error_fails_the_job(server, state, client) -> None:
    state.outcomes.append("error")
    p = provider(server[1])
    done = (await until_done(p, client, await submit(p, client)))[-1]
    assert done.state is JobState.failed and isinstance(done.error, ExecutionError)
    assert done.error.provider_code == "RuntimeError" and "KSampler" in done.error.message


async def test_cancel_interrupts_a_running_prompt_and_deletes_a_pending_one(server, state, client) -> None:
    state.outcomes.extend(["forever", "succeed"])
    p = provider(server[1])
    running, pending = await submit(p, client), await submit(p, client)
    for _ in range(50):
        if state.running is not None:
            break
        await asyncio.sleep(0.02)
    state.held = True  # keep the second one pending once the first stops
    assert await p.cancel(client, "text-to-image", pending.job_id) is True
    assert not state.pending
    assert await p.cancel(client, "text-to-image", running.job_id) is True
    assert state.interrupts[-1] == {"prompt_id": running.job_id.split(":")[1]}
    done = (await until_done(p, client, running))[-1]
    assert done.state is JobState.canceled and done.error.provider_code == "execution_interrupted"
    assert await p.cancel(client, "text-to-image", running.job_id) is False


async def test_a_lost_prompt_fails_retryably(server, state, client) -> None:
    state.outcomes.append("lost")
    p = provider(server[1])
    done = (await until_done(p, client, await submit(p, client)))[-1]
    assert done.state is JobState.failed and isinstance(done.error, ProviderServerError) and done.error.retryable
    assert (await p.poll(client, "text-to-image", "unknownkey:x:y")).state is JobState.failed


@pytest.mark.parametrize("outcome", ["unknown", "malformed"])
async def test_unknown_status_and_malformed_history(server, state, client, outcome) -> None:
    state.outcomes.append(outcome)
    p = provider(server[1])
    with pytest.raises(MalformedReply):
        await until_done(p, client, await submit(p, client))


async def test_prompt_validation_errors_name_the_node(server, state, client) -> None:
    p = provider(server[1])
    bad = copy.deepcopy(T2I)
    bad["4"]["inputs"]["ckpt_name"] = "missing.safetensors"
    with pytest.raises(ProviderInvalidInput) as info:
        await submit(p, client, workflow=bad)
    assert info.value.provider_code == "prompt_outputs_failed_validation" and "missing.safetensors" in str(info.value)
    with pytest.raises(ProviderInvalidInput) as info:
        await submit(p, client, workflow={"1": {"class_type": "NoSuchNode", "inputs": {}}})
    assert info.value.provider_code == "invalid_prompt"


async def test_server_errors_and_timeouts(server, state, client) -> None:
    p = provider(server[1], timeout_s=0.5)
    job = await submit(p, client)
    state.errors.append("http_500")
    with pytest.raises(ProviderServerError):
        await p.poll(client, "text-to-image", job.job_id)
    state.errors.append("slow")
    with pytest.raises(ProviderTimeout):
        await p.poll(client, "text-to-image", job.job_id)


async def test_least_busy_reachable_server_is_chosen(server, state, client) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    other = ComfyState()
    with serve_asgi(build_app(other)) as second:
        state.held = True
        await submit(provider(server[1]), client)  # the first server now has a queue
        job = await submit(provider(dead, server[1], second), client)
        assert other.requests and job.job_id.split(":")[1] == other.requests[-1]["prompt_id"]
    with pytest.raises(ProviderServerError) as info:
        await submit(provider(dead), client)
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


def test_end_to_end(tmp_path: Path, server, state) -> None:
    submit_and_finish(
        tmp_path, "comfyui", {"servers": [server[1]]}, "text-to-image", {"workflow": T2I}, server[1], "image/png"
    )


def test_a_prompt_that_outlives_its_deadline_is_interrupted(tmp_path: Path, server, state) -> None:
    state.outcomes.append("forever")
    outlive_deadline(tmp_path, "comfyui", {"servers": [server[1]]}, "text-to-image", {"workflow": T2I})
    assert state.interrupts, "the deadline did not interrupt the prompt"
    for _ in range(100):
        if state.running is None:
            break
        time.sleep(0.02)
    assert state.running is None and not state.pending


def test_unconfigured_is_a_4xx(tmp_path: Path) -> None:
    r = unconfigured_submit(tmp_path, "comfyui", "text-to-image", {"workflow": T2I})
    assert r.status_code == 422 and r.json()["error"]["type"] == "provider_not_configured"
