"""Vendor callbacks (`POST /v1/callbacks/{provider}/{task_id}?token=...`) and the learned poll schedule.

The real HTTP API on 127.0.0.1 (in-process service) with Kling pointed at the Kling imitation over real HTTP;
the imitation records each submit's body, and the test plays the vendor's callback. The last test uses the
shared fake vendor (`benchmarks.services.fake_vendor`), which POSTs Kling-style callbacks itself.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from genpulse.api.app import create_api
from genpulse.core.config import AppArgs
from genpulse.core.errors import ConfigError
from genpulse.providers.callbacks import VendorCallbacks
from genpulse.providers.poll_schedule import PollPlanner
from genpulse.wiring.in_process import LocalRuntime, build_local
from tests.conftest import free_port, wait_for
from tests.support.kling_runtime import AK, SK, VIDEO
from tests.vendors.kling import KlingState
from tests.vendors.kling import build_app as kling_app
from tests.vendors.metered import Metered
from tests.vendors.server import serve_asgi

SECRET = "callback-secret-for-tests"


class Gateway:
    def __init__(self, url: str, runtime: LocalRuntime, state: KlingState, metered: Metered) -> None:
        self.url, self.runtime, self.state, self.metered = url, runtime, state, metered

    def submit(self, provider: str = "kling") -> str:
        body = {"provider": provider, "task_type": "text-to-video", "params": VIDEO}
        reply = httpx.post(f"{self.url}/v1/tasks", json=body, timeout=10)
        assert reply.status_code == 202, reply.text
        return str(reply.json()["id"])

    def task(self, task_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/v1/tasks/{task_id}", timeout=10).json())

    def polls(self) -> int:
        return len(self.metered.calls) - len(self.state.requests)  # every call but the submits

    def callback_url(self, index: int = -1) -> str:
        return str(self.state.requests[index]["body"]["callback_url"])


@contextlib.contextmanager
def gateway(tmp_path: Path, *, run_s: float = 0.3, callbacks: bool = True, **server: Any) -> Iterator[Gateway]:
    state = KlingState({AK: SK}, queue_s=0.1, run_s=run_s)
    metered = Metered(kling_app(state))
    with serve_asgi(metered) as vendor_url:
        state.base_url = vendor_url
        port = free_port()
        kling = {"base_url": vendor_url, "access_key": AK, "secret_key": SK}
        on = {"public_url": f"http://127.0.0.1:{port}", "callback_secret": SECRET} if callbacks else {}
        args = AppArgs.load(
            {
                "storage": {"path": str(tmp_path / "data")},
                "server": {**on, "callback_safety_poll_s": 60, **server},
                "providers": {"kling": kling, "kling_b": {"kind": "kling", **kling}},
            }
        )
        runtime = build_local(args)
        api = create_api(args.server.max_body_bytes, args.server.max_long_lived)
        api.state.service = runtime.service
        with serve_asgi(api, port) as url:
            yield Gateway(url, runtime, state, metered)


def test_submit_sends_a_callback_url_and_the_callback_makes_the_worker_poll_now(tmp_path: Path) -> None:
    with gateway(tmp_path) as gw:
        task_id = gw.submit()
        wait_for(lambda: gw.state.requests, 10, message="the submit")
        url = gw.callback_url()
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == gw.url and parts.path == f"/v1/callbacks/kling/{task_id}"
        token = parse_qs(parts.query)["token"][0]
        assert len(token) >= 40 and task_id not in token and SECRET not in url
        wait_for(lambda: gw.task(task_id)["status"] == "running", 10, message="the task running")
        time.sleep(0.6)  # the vendor job is done by now; with a 60 s safety poll nobody would look before the callback
        assert gw.polls() == 0 and gw.task(task_id)["status"] == "running"
        reply = httpx.post(url, json={"code": 0, "data": {"task_status": "succeed"}}, timeout=10)
        assert reply.status_code == 200 and reply.json() == {"status": "accepted"}
        wait_for(lambda: gw.task(task_id)["status"] == "succeeded", 10, message="the task to succeed")
        assert gw.polls() == 1  # the callback's poll, nothing else
        # the same callback again, for an ended task: ignored, no poll
        again = httpx.post(url, json={}, timeout=10)
        assert again.status_code == 200 and again.json() == {"status": "ignored"}
        assert gw.polls() == 1


def test_wrong_tokens_unknown_tasks_and_other_providers_are_refused_alike(tmp_path: Path) -> None:
    with gateway(tmp_path) as gw:
        task_id = gw.submit()
        wait_for(lambda: gw.state.requests, 10, message="the submit")
        good = VendorCallbacks("http://x", SECRET)
        refused = [
            f"/v1/callbacks/kling/{task_id}?token=wrong",
            f"/v1/callbacks/kling/{task_id}",  # no token
            f"/v1/callbacks/kling/{task_id}?token={good.token('kling', 'tsk_other')}",  # another task's token
            f"/v1/callbacks/kling/tsk_unknown?token={good.token('kling', 'tsk_unknown')}",  # no such task
            # a good token for the same task under another provider: that provider does not own the task
            f"/v1/callbacks/kling_b/{task_id}?token={good.token('kling_b', task_id)}",
            f"/v1/callbacks/nope/{task_id}?token={good.token('nope', task_id)}",  # no such provider
            f"/v1/callbacks/diffusers/{task_id}?token={good.token('diffusers', task_id)}",  # no callbacks there
        ]
        bodies = set()
        for path in refused:
            reply = httpx.post(gw.url + path, json={"data": {"task_status": "succeed"}}, timeout=10)
            assert reply.status_code == 404, (path, reply.text)
            assert task_id not in reply.text and "token" not in reply.text.lower()
            bodies.add(reply.text)
        assert len(bodies) == 1  # one answer for every refusal: nothing to learn from it
        assert gw.polls() == 0  # none of them woke the worker
        assert gw.task(task_id)["status"] in ("queued", "running")


def test_callbacks_are_off_without_a_public_url(tmp_path: Path) -> None:
    with gateway(tmp_path, callbacks=False, run_s=0.2) as gw:
        task_id = gw.submit()
        wait_for(lambda: gw.task(task_id)["status"] == "succeeded", 20, message="the task to succeed by polling")
        assert "callback_url" not in gw.state.requests[0]["body"]
        token = VendorCallbacks("http://x", SECRET).token("kling", task_id)
        assert httpx.post(f"{gw.url}/v1/callbacks/kling/{task_id}?token={token}", timeout=10).status_code == 404


def test_a_public_url_needs_a_callback_secret() -> None:
    with pytest.raises(ConfigError, match="callback_secret"):
        AppArgs.load({"server": {"public_url": "https://gw.example.com"}})
    with pytest.raises(ConfigError, match="public_url"):
        AppArgs.load({"server": {"public_url": "ftp://gw.example.com", "callback_secret": SECRET}})
    args = AppArgs.load({"server": {"public_url": "https://gw.example.com/", "callback_secret": SECRET}})
    callbacks = VendorCallbacks.from_args(args)
    assert callbacks is not None and callbacks.url("kling", "tsk_1").startswith("https://gw.example.com/v1/callbacks/")
    assert SECRET not in repr(args.server)


def test_the_poll_schedule_learns_job_durations() -> None:
    planner = PollPlanner(lambda task_type, elapsed, polls: 2.0)
    assert planner.delay("text-to-video", 0, 0) == 2.0  # nothing learned yet: the provider's schedule
    for duration in (30.2, 30.5, 30.9, 31.0):
        planner.record("text-to-video", duration)
    first = planner.delay("text-to-video", 0.1, 0)
    assert 27 < first < 30  # one sleep to just before the earliest expected end
    assert planner.delay("text-to-video", 29, 1) == pytest.approx(0.9, abs=0.05)  # then short polls
    assert planner.delay("text-to-video", 60, 5) == 2.0  # far past the usual: back to the provider's schedule
    assert planner.delay("text-to-image", 0, 0) == 2.0  # learned per task type
    polls, t = 0, 0.0
    while t < 30.6:  # a 30.6 s job: how many polls until one sees it ended
        t += planner.delay("text-to-video", t, polls)
        polls += 1
    assert polls <= 4  # a fixed 2 s poll needs 16


def test_the_shared_fake_vendors_callbacks_end_jobs_with_one_poll(tmp_path: Path) -> None:
    from benchmarks import services  # ../shared/bench's fake vendor: CI has it beside the checkout
    from benchmarks.env import VENDOR_AK, VENDOR_SK

    with services.fake_vendor(duration="1.5", qps=0) as vendor:
        port = free_port()
        args = AppArgs.load(
            {
                "storage": {"path": tempfile.mkdtemp(dir=tmp_path)},
                "server": {"public_url": f"http://127.0.0.1:{port}", "callback_secret": SECRET},
                "providers": {"kling": {"base_url": vendor.url, "access_key": VENDOR_AK, "secret_key": VENDOR_SK}},
            }
        )
        runtime = build_local(args)
        api = create_api()
        api.state.service = runtime.service
        with serve_asgi(api, port) as url:
            body = {"provider": "kling", "task_type": "text-to-video", "params": VIDEO}
            ids = [httpx.post(f"{url}/v1/tasks", json=body, timeout=10).json()["id"] for _ in range(3)]
            for task_id in ids:
                wait_for(
                    lambda i=task_id: httpx.get(f"{url}/v1/tasks/{i}", timeout=10).json()["status"] == "succeeded",
                    20,
                    message="the callback to end the task",
                )
            stats = httpx.get(f"{vendor.url}/__stats", timeout=10).json()
            assert stats["callbacks_sent"] == 3 and stats["callbacks_failed"] == 0
            assert stats["polls"] == 3  # one poll per job: the one its callback asked for
