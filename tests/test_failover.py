"""Failover across a model alias's routes, through the real HTTP API with the `openai` SDK (in-process, no Ray),
against vendor imitations on 127.0.0.1: a submit the first provider instance surely refused (connection refused,
its arrears code) moves the task to the next route, recorded in `route_attempts`, with one hold and one
settlement; an ambiguous 504, a refusal of the request itself, or an alias with no further route never does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from benchmarks.env import VENDOR_AK, VENDOR_SK
from benchmarks.services import fake_vendor
from tests.conftest import free_port, wait_for
from tests.harness import RunningApp, local_args, running_app
from tests.vendors.harness import KLING, app_config
from tests.vendors.kling import KlingState

ADMIN = "admin-key-for-the-failover-tests"
BACKUP = {"access_key": "AKbackupkling00", "secret_key": "SKbackupkling000000000000000000000"}
PRICE = {"text-to-image": {"per_task": 2}, "text-to-video": {"per_task": 3}}


@pytest.fixture
def backup() -> Iterator[tuple[KlingState, str]]:
    """A second Kling account that takes every job."""
    with KLING.serve(KLING.imitation(BACKUP)) as served:
        yield served


def routes(first: str, *more: str) -> list[dict[str, Any]]:
    return [{"provider": p, "priority": i} for i, p in enumerate((first, *more))]


def app_args(tmp_path: Path, providers: dict[str, Any], models: dict[str, Any], **extra: Any) -> Any:
    return local_args(
        tmp_path,
        providers={"diffusers": {"enabled": False}, **providers},
        models=models,
        workers={"backoff_base_s": 0.05, "backoff_max_s": 0.2},
        server={"max_wait_s": 20},
        **extra,
    )


def sdk(app: RunningApp, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app.url}/v1", api_key=key, max_retries=0, timeout=60)


def newest_task(app: RunningApp, key: str = "unused") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{app.url}/v1/tasks", params={"limit": 1}, headers=headers).json()["data"][0]


def finished(app: RunningApp, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (task := httpx.get(f"{app.url}/v1/tasks/{task_id}", params={"wait": 10}, timeout=30).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, task
    return task


def test_a_refused_connection_fails_over_to_the_next_route(tmp_path: Path, backup: tuple[KlingState, str]) -> None:
    state, url = backup
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: the request never leaves
    providers = {
        "kling": app_config(KLING, down, submit_retry_budget_s=30),
        "kling_backup": {**app_config(KLING, url), **BACKUP, "kind": "kling"},
    }
    models = {"fox": {"task_type": "text-to-image", "routes": routes("kling", "kling_backup")}}
    with running_app(app_args(tmp_path, providers, models)) as app:
        out = sdk(app).images.generate(model="fox", prompt="a fox", response_format="b64_json")
        assert out.data[0].b64_json and len(state.jobs) == 1
        task = newest_task(app)
    assert task["provider"] == "kling_backup" and task["status"] == "succeeded"
    (attempt,) = task["route_attempts"]
    assert attempt["provider"] == "kling" and attempt["attempts"] == 1
    assert attempt["error"]["type"] == "provider_server_error" and "ConnectError" in attempt["error"]["message"]
    assert task["attempts"] == 2  # one run on each route


def test_an_arrears_code_fails_over_and_the_hold_stays_right(tmp_path: Path, backup: tuple[KlingState, str]) -> None:
    """Kling's 1101 (account in arrears) on the first account; the task runs on the backup, is held and settled
    once at the price fixed at submit. A route priced differently is never a fallback."""
    state, url = backup
    with KLING.serve() as (first, first_url):
        first.errors.append(1101)
        providers = {
            "kling": app_config(KLING, first_url),
            "kling_backup": {**app_config(KLING, url), **BACKUP, "kind": "kling"},
            "kling_dear": {**app_config(KLING, url), **BACKUP, "kind": "kling"},
        }
        models = {"fox": {"task_type": "text-to-image", "routes": routes("kling", "kling_dear", "kling_backup")}}
        pricing = {"kling": PRICE, "kling_dear": {"text-to-image": {"per_task": 5}}}  # kling_backup: kling's price
        args = app_args(tmp_path, providers, models, pricing=pricing, auth={"mode": "keys", "admin_key": ADMIN})
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as http:
            admin = {"Authorization": f"Bearer {ADMIN}"}
            tenant = http.post("/v1/admin/tenants", json={"name": "t", "credits": 10}, headers=admin).json()
            key = http.post(f"/v1/admin/tenants/{tenant['id']}/keys", json={}, headers=admin).json()["key"]
            out = sdk(app, key).images.generate(model="fox", prompt="a fox", response_format="b64_json")
            assert out.data[0].b64_json
            task = newest_task(app, key)
            me = http.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
            ledger = http.get("/v1/ledger", headers={"Authorization": f"Bearer {key}"}).json()["data"]
    assert (len(first.jobs), len(state.jobs)) == (0, 1)  # refused at the first account; one job at the backup
    assert task["provider"] == "kling_backup" and task["status"] == "succeeded"
    (attempt,) = task["route_attempts"]  # kling_dear, priced 5, was skipped
    assert attempt["provider"] == "kling"
    assert attempt["error"]["type"] == "insufficient_balance" and attempt["error"]["provider_code"] == "1101"
    assert task["billing"]["held"] == 2 and task["billing"]["charged"] == 2 and task["billing"]["state"] == "settled"
    assert (me["balance"], me["held"]) == (8, 0)
    assert [e["kind"] for e in reversed(ledger)] == ["topup", "hold", "settle"]


def test_an_ambiguous_504_never_fails_over(tmp_path: Path, backup: tuple[KlingState, str]) -> None:
    """The shared fake vendor makes the job, then answers a bare 504: the job is found by our id and polled;
    the backup never sees a submit, and the vendor exactly one."""
    state, url = backup
    with fake_vendor(duration="0.5", ambiguous_fraction="1.0") as vendor:
        providers = {
            "kling": {**app_config(KLING, vendor.url), "access_key": VENDOR_AK, "secret_key": VENDOR_SK},
            "kling_backup": {**app_config(KLING, url), **BACKUP, "kind": "kling"},
        }
        models = {"waves": {"task_type": "text-to-video", "routes": routes("kling", "kling_backup")}}
        with running_app(app_args(tmp_path, providers, models)) as app:
            video = sdk(app).videos.create(model="waves", prompt="waves", seconds="5")  # type: ignore[arg-type]
            task = finished(app, video.id)
        stats = httpx.get(f"{vendor.url}/__stats", timeout=10).json()
    assert task["status"] == "succeeded" and task["provider"] == "kling", task
    assert task["route_attempts"] == [] and len(state.jobs) == 0
    assert stats["ambiguous_504"] == 1 and stats["submits"] == 1 and stats["duplicate_external_ids"] == 0, stats


def test_no_further_route_or_a_refused_request_fails_as_before(tmp_path: Path, backup: tuple[KlingState, str]) -> None:
    """Arrears on an alias whose other route is unusable (no credentials) fails the task; moderation (the
    request refused, not the account) fails it even with a further route."""
    state, url = backup
    with KLING.serve() as (first, first_url):
        providers = {
            "kling": app_config(KLING, first_url),
            "kling_nokeys": {"kind": "kling", "base_url": url},
            "kling_backup": {**app_config(KLING, url), **BACKUP, "kind": "kling"},
        }
        models = {
            "solo": {"task_type": "text-to-image", "routes": routes("kling", "kling_nokeys")},
            "fox": {"task_type": "text-to-image", "routes": routes("kling", "kling_backup")},
        }
        with running_app(app_args(tmp_path, providers, models)) as app:
            first.errors.append(1101)
            with pytest.raises(openai.APIStatusError) as broke:
                sdk(app).images.generate(model="solo", prompt="a fox")
            solo = newest_task(app)
            first.errors.append(1301)
            with pytest.raises(openai.APIStatusError) as moderated:
                sdk(app).images.generate(model="fox", prompt="a fox")
            fox = newest_task(app)
    assert broke.value.code == "insufficient_balance" and moderated.value.code == "content_moderated"
    for task in (solo, fox):
        assert task["status"] == "failed" and task["provider"] == "kling" and task["route_attempts"] == [], task
    assert len(first.jobs) == 0 and len(state.jobs) == 0


def test_a_refusal_after_the_vendor_took_the_job_never_fails_over(
    tmp_path: Path, backup: tuple[KlingState, str]
) -> None:
    """The first account made the job, then answers a poll with its arrears code: the job is the task's (its id
    is on the task), so the task fails there and nothing is submitted to the next account."""
    state, url = backup
    with KLING.serve() as (first, first_url):
        providers = {
            "kling": app_config(KLING, first_url),
            "kling_backup": {**app_config(KLING, url), **BACKUP, "kind": "kling"},
        }
        models = {"waves": {"task_type": "text-to-video", "routes": routes("kling", "kling_backup")}}
        first.outcomes.append("forever")  # the job runs until the poll is refused
        with running_app(app_args(tmp_path, providers, models)) as app:
            video = sdk(app).videos.create(model="waves", prompt="waves", seconds="5")  # type: ignore[arg-type]
            wait_for(lambda: httpx.get(f"{app.url}/v1/tasks/{video.id}").json()["provider_task_id"], 30,
                     message="the vendor job id")  # fmt: skip
            first.errors.append(1101)
            task = finished(app, video.id)
    assert task["status"] == "failed" and task["provider"] == "kling" and task["route_attempts"] == [], task
    assert task["error"]["provider_code"] == "1101"
    assert (len(first.jobs), len(state.jobs)) == (1, 0)
