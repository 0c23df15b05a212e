"""Idempotency keys: a 409 for a reused key names no other task, and the keys pipelines give their steps
(``{id}:{step}``) live in a space of their own that no caller's key reaches (in-process, no Ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from genpulse.core.errors import InvalidRequest
from genpulse.core.schemas import TaskRequest
from genpulse.tasks.store import CHILD_SCOPE
from genpulse.wiring.in_process import build_local
from tests.harness import local_args, running_app

FOX = {"provider": "diffusers", "task_type": "text-to-image", "params": {"prompt": "a red fox", "width": 64}}


async def no_engine(params: dict[str, Any]) -> dict[str, Any]:
    raise InvalidRequest("no diffusion engine in this test")


def request(body: dict[str, Any], key: str | None = None) -> TaskRequest:
    return TaskRequest.model_validate({**body, "idempotency_key": key})


async def test_a_caller_cannot_reach_a_pipeline_step_key(tmp_path: Path) -> None:
    service = build_local(local_args(tmp_path), generate=no_engine).service
    step_key = "tsk_0000000000010000000000ab:video"
    child, _ = await service.submit(request(FOX, step_key), key_scope=CHILD_SCOPE)
    cat = {**FOX, "params": {"prompt": "a cat"}}
    mine, created = await service.submit(request(cat), idempotency_key=step_key)
    assert created and mine.id != child.id  # no 409: the step's key is not in the callers' space
    again, created = await service.submit(request(cat), idempotency_key=step_key)
    assert not created and again.id == mine.id  # the caller's key works as usual
    step, created = await service.submit(request(FOX, step_key), key_scope=CHILD_SCOPE)
    assert not created and step.id == child.id  # and so does the step's, in its own space


def test_a_conflict_does_not_reveal_the_other_task(tmp_path: Path) -> None:
    with running_app(local_args(tmp_path), generate=no_engine) as app, httpx.Client(base_url=app.url) as client:
        first = client.post("/v1/tasks", json=FOX, headers={"Idempotency-Key": "shared"}).json()
        other = {**FOX, "params": {"prompt": "a cat"}}
        refused = client.post("/v1/tasks", json=other, headers={"Idempotency-Key": "shared"})
        assert refused.status_code == 409 and refused.json()["error"]["type"] == "conflict"
        assert first["id"] not in refused.text
