"""The Python SDK against the running app over real HTTP (in-process, no Ray), sync and async."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from genpulse.client import AsyncGenPulse, GenPulse, TaskFailed
from genpulse.core.errors import Conflict, InvalidRequest, NotFound, ProviderTimeout, ServiceUnavailable
from tests.conftest import free_port
from tests.harness import local_args
from tests.results_app import ResultsApp, png, results_app
from tests.vendors.server import serve_asgi

FOX = {"prompt": "a red fox", "width": 64, "height": 64}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResultsApp]:
    args = local_args(tmp_path_factory.mktemp("sdk"), server={"max_wait_s": 30, "sse_heartbeat_s": 0.5})
    with results_app(args) as running:
        yield running


class Flaky:
    """A real HTTP front for the app: loses the answer to the first submit, and can strip `?wait=` (no hold)."""

    def __init__(
        self, target: str, *, lose_first_submit: bool = False, lose_first_retry: bool = False, strip_wait: bool = False
    ) -> None:
        self.target, self.lose_first_submit, self.strip_wait = target, lose_first_submit, strip_wait
        self.lose_first_retry = lose_first_retry
        self.seen: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k not in (b"host", b"content-length")}
        query = scope["query_string"].decode()
        if self.strip_wait:
            query = "&".join(p for p in query.split("&") if p and not p.startswith("wait="))
        with self.lock:
            self.seen.append((scope["method"], scope["path"], headers.get("idempotency-key")))
            first_submit = scope["method"] == "POST" and [s[:2] for s in self.seen].count(("POST", "/v1/tasks")) == 1
            retries = [s for s in self.seen if s[0] == "POST" and s[1].endswith("/retry")]
            first_retry = scope["method"] == "POST" and scope["path"].endswith("/retry") and len(retries) == 1
        async with httpx.AsyncClient(base_url=self.target, timeout=60) as http:
            r = await http.request(scope["method"], f"{scope['path']}?{query}", content=body, headers=headers)
        status, content = r.status_code, r.content
        lost = (first_submit and self.lose_first_submit) or (first_retry and self.lose_first_retry)
        if lost:  # the task was created; the client never hears about it
            status, content = 503, b'{"error": {"type": "service_unavailable", "message": "lost", "details": null}}'
        ctype = [(b"content-type", r.headers.get("content-type", "application/json").encode())]
        await send({"type": "http.response.start", "status": status, "headers": ctype})
        await send({"type": "http.response.body", "body": content})


def test_quickstart_run_and_download(app: ResultsApp) -> None:
    with GenPulse(app.url) as gp:
        task = gp.run("diffusers", "text-to-image", FOX, timeout=30)
        assert task.status == "succeeded" and task.progress == 100
        asset = task.result["assets"][0]
        data = gp.download(asset["id"])
        assert hashlib.sha256(data).hexdigest() == asset["sha256"] == gp.asset(asset["id"]).sha256
        with Image.open(io.BytesIO(data)) as img:
            assert img.size == (64, 64)
        assert task.id in [t.id for t in gp.list_tasks(provider="diffusers", status="succeeded").data]


def test_retried_submit_never_creates_two_tasks(app: ResultsApp) -> None:
    flaky = Flaky(app.url, lose_first_submit=True)
    with serve_asgi(flaky) as front, GenPulse(front, backoff_s=0.01) as gp:
        task = gp.submit("diffusers", "text-to-image", FOX, metadata={"tag": "once"})
    submits = [s for s in flaky.seen if s[:2] == ("POST", "/v1/tasks")]
    assert len(submits) == 2 and submits[0][2] == submits[1][2] and submits[0][2].startswith("sdk-")
    with GenPulse(app.url) as gp:
        same = [t for t in gp.list_tasks(limit=200).data if t.metadata.get("tag") == "once"]
        assert [t.id for t in same] == [task.id]


def test_retried_retry_never_creates_two_tasks(app: ResultsApp) -> None:
    with GenPulse(app.url) as gp, pytest.raises(TaskFailed) as failed:
        gp.run("diffusers", "text-to-image", FOX, deadline_s=0.001, timeout=30)
    dead = failed.value.task.id
    flaky = Flaky(app.url, lose_first_retry=True)
    with serve_asgi(flaky) as front, GenPulse(front, backoff_s=0.01) as gp:
        rerun = gp.retry(dead)
    retries = [s for s in flaky.seen if s[:2] == ("POST", f"/v1/tasks/{dead}/retry")]
    assert len(retries) == 2 and retries[0][2] == retries[1][2] and retries[0][2].startswith("sdk-")
    with GenPulse(app.url) as gp:
        assert gp.retry(dead, idempotency_key=retries[0][2]).id == rerun.id  # the key is the caller's to reuse
        assert [t.id for t in gp.list_tasks(limit=200).data if t.retry_of == dead] == [rerun.id]


def test_server_errors_are_the_error_tree(app: ResultsApp) -> None:
    with GenPulse(app.url) as gp:
        with pytest.raises(NotFound):
            gp.get("tsk_000000000000000000000000")
        with pytest.raises(InvalidRequest) as bad:
            gp.submit("diffusers", "text-to-image", {"prompt": "x", "width": 60})
        assert bad.value.status_code == 422 and "params.width" in str(bad.value.details)
        done = gp.run("diffusers", "text-to-image", FOX, timeout=30)
        with pytest.raises(Conflict):
            gp.cancel(done.id)
        with pytest.raises(TaskFailed) as failed:
            gp.run("diffusers", "text-to-image", FOX, deadline_s=0.001, timeout=30)
        assert isinstance(failed.value.cause, ProviderTimeout) and failed.value.task.status == "failed"
        rerun = gp.retry(failed.value.task.id)
        assert rerun.retry_of == failed.value.task.id


def test_unreachable_server_is_service_unavailable() -> None:
    gp = GenPulse(f"http://127.0.0.1:{free_port()}", max_retries=2, backoff_s=0.01)
    with gp, pytest.raises(ServiceUnavailable, match="unreachable"):
        gp.get("tsk_000000000000000000000000")


def test_wait_falls_back_to_polling_with_backoff(app: ResultsApp) -> None:
    flaky = Flaky(app.url, strip_wait=True)
    with serve_asgi(flaky) as front, GenPulse(front) as gp:
        task = gp.submit("diffusers", "text-to-image", {**FOX, "prompt": "hold:poll"})
        threading.Timer(1.2, app.gates.open, ("poll",)).start()
        started = time.monotonic()
        done = gp.wait(task.id, timeout=30)
    assert done.status == "succeeded" and time.monotonic() - started < 5
    polls = [s for s in flaky.seen if s[:2] == ("GET", f"/v1/tasks/{task.id}")]
    assert 2 <= len(polls) <= 5  # 0.5 s, 1 s, 2 s backoff, not a busy loop


def test_wait_mode_is_one_request(app: ResultsApp) -> None:
    flaky = Flaky(app.url)
    with serve_asgi(flaky) as front, GenPulse(front) as gp:
        task = gp.submit("diffusers", "text-to-image", {**FOX, "prompt": "hold:long"})
        threading.Timer(1.0, app.gates.open, ("long",)).start()
        assert gp.wait(task.id, timeout=30).status == "succeeded"
    assert [s[:2] for s in flaky.seen].count(("GET", f"/v1/tasks/{task.id}")) == 1


def test_sync_events_and_wait_via_sse(app: ResultsApp) -> None:
    with GenPulse(app.url) as gp:
        task = gp.submit("diffusers", "text-to-image", {**FOX, "prompt": "hold:sync-sse"})
        threading.Timer(0.5, app.gates.open, ("sync-sse",)).start()
        done = gp.wait(task.id, via="sse", timeout=30)
        assert done.status == "succeeded"
        events = list(gp.events(task.id))
        assert [e.status for e in events][-1] == "succeeded" and events[-1].task == done
        assert [e.seq for e in gp.events(task.id, last_event_id=events[-2].seq)] == [events[-1].seq]
        with pytest.raises(NotFound):
            list(gp.events("tsk_000000000000000000000000"))


async def test_async_client_events_wait_and_cancel(app: ResultsApp) -> None:
    async with AsyncGenPulse(app.url) as gp:
        task = await gp.submit("diffusers", "text-to-image", {**FOX, "prompt": "hold:async"}, priority="high")
        threading.Timer(0.5, app.gates.open, ("async",)).start()
        events = [e async for e in gp.events(task.id)]
        assert [(e.event, e.status) for e in events] == [
            ("status", "queued"),
            ("status", "running"),
            ("progress", "running"),
            ("status", "succeeded"),
        ]
        assert events[-1].task is not None and events[-1].task.result
        resumed = [e.seq async for e in gp.events(task.id, last_event_id=events[1].seq)]
        assert resumed == [e.seq for e in events[2:]]
        again = await gp.wait(task.id, via="sse", timeout=10)
        assert again == events[-1].task

        held = await gp.submit("diffusers", "text-to-image", {**FOX, "prompt": "hold:never"})
        canceled = await gp.cancel(held.id)
        assert canceled.status == "canceled"
        with pytest.raises(TaskFailed):
            await gp.wait(held.id, timeout=5, raise_on_failure=True)
        with pytest.raises(TimeoutError):
            await gp.wait((await gp.submit("diffusers", "text-to-image", {**FOX, "prompt": "hold:t"})).id, timeout=0.5)
        app.gates.open("t")
        app.gates.open("never")


def test_upload_and_download(app: ResultsApp) -> None:
    paths = httpx.get(f"{app.url}/openapi.json", timeout=30).json()["paths"]
    assert "post" in paths.get("/v1/assets", {}), "POST /v1/assets is missing from the app"
    image = png(32, 32, 3)
    with GenPulse(app.url) as gp:
        asset = gp.upload(image, filename="in.png")
        assert asset.content_type == "image/png" and asset.bytes == len(image)
        assert gp.download(asset) == image


@pytest.mark.parametrize(
    ("doc", "heading", "size"), [("README.md", "### Python SDK", 64), ("docs/results.md", "## Quickstart", 256)]
)
def test_docs_quickstart_runs(
    app: ResultsApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: str, heading: str, size: int
) -> None:
    """The SDK quickstarts of the README and docs/results.md, as written (only the server URL differs)."""
    text = (Path(__file__).resolve().parent.parent / doc).read_text()
    block = text.split(heading, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(block.replace("http://127.0.0.1:8000", app.url), doc, "exec"), {})
    with Image.open(tmp_path / "fox.png") as img:
        assert img.size == (size, size)
