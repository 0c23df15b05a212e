"""Results over real HTTP (no Ray): wait mode latency, SSE streams, webhooks end to end, the delivery log."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.config import AppArgs
from genpulse.core.errors import InvalidRequest
from genpulse.webhooks import signatures
from genpulse.webhooks.manage import check_target
from tests.harness import local_args
from tests.results_app import ResultsApp, results_app
from tests.vendors.server import serve_asgi
from tests.webhook_receiver import Receiver

SECRET = signatures.new_secret()


def job(prompt: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "diffusers",
        "task_type": "text-to-image",
        "params": {"prompt": prompt, "width": 64, "height": 64},
        **extra,
    }


@pytest.fixture(scope="module", params=["memory", "redis"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResultsApp]:
    store = None
    if request.param == "redis":
        from genpulse.tasks.redis_store import RedisTaskStore

        store = RedisTaskStore(request.getfixturevalue("redis_server"))
    args = local_args(
        tmp_path_factory.mktemp("results"),
        server={"max_wait_s": 30, "sse_heartbeat_s": 0.2},
        webhooks={"secret": SECRET, "backoff_base_s": 0.05, "backoff_max_s": 0.2, "poll_interval_s": 0.02},
        security={"allow_private_urls": True, "allow_http_urls": True},
    )
    with results_app(args, store) as running:
        yield running


@pytest.fixture
def client(app: ResultsApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, timeout=30) as c:
        yield c


def sse(client: httpx.Client, task_id: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Read a task's whole event stream; returns its frames (comments as ``{"comment": ...}``)."""
    frames: list[dict[str, Any]] = []
    with client.stream("GET", f"/v1/tasks/{task_id}/events", headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith(":"):
                frames.append({"comment": line[1:].strip()})
            elif line == "":
                if current:
                    frames.append(current)
                current = {}
            else:
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")
    return frames


def in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    return thread, out


def test_wait_returns_within_100ms_of_completion(app: ResultsApp, client: httpx.Client) -> None:
    def get_waiting(task_id: str) -> tuple[float, dict[str, Any]]:
        r = client.get(f"/v1/tasks/{task_id}", params={"wait": 20})
        return time.time(), r.json()

    def submit_waiting() -> tuple[float, httpx.Response]:
        r = client.post("/v1/tasks", json=job("hold:wait-b"), headers={"Prefer": "wait=20"})
        return time.time(), r

    task = client.post("/v1/tasks", json=job("hold:wait-a")).json()
    getter, got = in_thread(get_waiting, task["id"])
    submitter, submitted = in_thread(submit_waiting)
    time.sleep(0.5)
    assert got == [] and submitted == []  # both are held
    app.gates.open("wait-a")
    app.gates.open("wait-b")
    getter.join(10)
    submitter.join(10)
    (received, body), (received_b, response) = got[0], submitted[0]
    assert body["status"] == "succeeded"
    assert received - body["finished_at"] < 0.1, received - body["finished_at"]
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert received_b - response.json()["finished_at"] < 0.1


def test_sse_streams_every_change_with_heartbeats(app: ResultsApp, client: httpx.Client) -> None:
    task = client.post("/v1/tasks", json=job("hold:sse")).json()
    reader, out = in_thread(sse, client, task["id"])
    time.sleep(0.7)  # > 3 heartbeats of 0.2 s while the task is held
    app.gates.open("sse")
    reader.join(20)
    frames = out[0]
    assert frames[0] == {"retry": "2000"}
    assert sum(1 for f in frames if f.get("comment") == "keep-alive") >= 2
    events = [f for f in frames if "data" in f]
    data = [json.loads(f["data"]) for f in events]
    assert [(f["event"], d["status"]) for f, d in zip(events, data, strict=True)] == [
        ("status", "queued"),
        ("status", "running"),
        ("progress", "running"),
        ("status", "succeeded"),
    ]
    ids = [int(f["id"]) for f in events]
    assert ids == sorted(ids) and ids == [d["seq"] for d in data]
    assert data[2]["progress"] == 90
    final = data[-1]["task"]
    assert final["id"] == task["id"] and final["result"]["assets"][0]["content_type"] == "image/png"

    resumed = [f for f in sse(client, task["id"], {"Last-Event-ID": str(ids[1])}) if "data" in f]
    assert [int(f["id"]) for f in resumed] == ids[2:]
    assert [f for f in sse(client, task["id"], {"Last-Event-ID": str(ids[-1])}) if "data" in f] == []
    r = client.get(f"/v1/tasks/{task['id']}/events", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "malformed_request"
    r = client.get("/v1/tasks/tsk_000000000000000000000000/events")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


def test_completion_reaches_waiter_sse_subscriber_and_webhook(app: ResultsApp, client: httpx.Client) -> None:
    receiver = Receiver(SECRET, refuse_first=2)
    with serve_asgi(receiver) as hook:
        task = client.post("/v1/tasks", json=job("hold:all", webhook_url=f"{hook}/genpulse")).json()
        waiter, waited = in_thread(lambda: client.get(f"/v1/tasks/{task['id']}", params={"wait": 20}).json())
        subscriber, streamed = in_thread(sse, client, task["id"])
        time.sleep(0.3)
        app.gates.open("all")
        waiter.join(20)
        subscriber.join(20)
        assert receiver.arrived.wait(20)
        assert waited[0]["status"] == "succeeded"
        final = json.loads([f for f in streamed[0] if "data" in f][-1]["data"])["task"]
        assert final == waited[0]
        deadline = time.monotonic() + 10
        while (log := client.get(f"/v1/tasks/{task['id']}/webhooks").json()["data"])[0]["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        payload = json.loads(receiver.accepted[0].body)
        assert payload["type"] == "task.succeeded" and payload["data"] == waited[0]
        assert all(r.signature_ok for r in receiver.received)
        (delivery,) = log
        assert delivery["status"] == "delivered" and delivery["event_type"] == "task.succeeded"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
        assert delivery["id"] == receiver.received[0].headers["webhook-id"]

        r = client.post(f"/v1/tasks/{task['id']}/webhooks/redeliver")
        assert r.status_code == 202 and r.json()["status"] == "pending"
        deadline = time.monotonic() + 10
        while len(receiver.accepted) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        again = receiver.accepted[1]
        assert again.headers["webhook-id"] == delivery["id"] and again.body == receiver.accepted[0].body


def test_webhook_routes_refuse_clearly(client: httpx.Client) -> None:
    plain = client.post("/v1/tasks", json=job("plain"), headers={"Prefer": "wait=20"}).json()
    assert client.get(f"/v1/tasks/{plain['id']}/webhooks").json() == {"data": []}
    r = client.post(f"/v1/tasks/{plain['id']}/webhooks/redeliver")
    assert r.status_code == 409 and r.json()["error"]["type"] == "conflict"
    assert client.get("/v1/tasks/tsk_000000000000000000000000/webhooks").status_code == 404
    r = client.post("/v1/tasks", json=job("x", webhook_url="file:///etc/passwd"))
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "webhook_url"


def test_submit_checks_the_target_and_the_secret() -> None:
    guarded = AppArgs.load({"webhooks": {"secret": SECRET}})
    check_target(guarded, "https://hooks.example.com/x")
    for url in ("https://127.0.0.1:8000/x", "http://hooks.example.com/x", "https://u:p@hooks.example.com/"):
        with pytest.raises(InvalidRequest) as refused:
            check_target(guarded, url)
        assert refused.value.details["field"] == "webhook_url"
    with pytest.raises(InvalidRequest, match="GENPULSE_WEBHOOKS__SECRET"):
        check_target(AppArgs.load({}), "https://hooks.example.com/x")


def test_retry_honours_idempotency_key(client: httpx.Client) -> None:
    def failed() -> str:
        task = client.post("/v1/tasks", json=job("late", deadline_s=0.001)).json()
        done = client.get(f"/v1/tasks/{task['id']}", params={"wait": 20}).json()
        assert done["status"] == "failed", done
        return done["id"]

    first, second = failed(), failed()
    key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    made = client.post(f"/v1/tasks/{first}/retry", headers=key)
    again = client.post(f"/v1/tasks/{first}/retry", headers=key)
    assert made.status_code == 202 and made.json()["retry_of"] == first
    assert again.json()["id"] == made.json()["id"]  # the same new task, not a second one
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in made.headers and made.headers["location"] == f"/v1/tasks/{made.json()['id']}"
    reruns = [t["id"] for t in client.get("/v1/tasks", params={"limit": 200}).json()["data"] if t["retry_of"] == first]
    assert reruns == [made.json()["id"]]
    other = client.post(f"/v1/tasks/{second}/retry", headers=key)  # the key on another request: like submit
    assert other.status_code == 409 and other.json()["error"]["type"] == "conflict"
    assert client.post("/v1/tasks", json=job("x"), headers=key).status_code == 409
    unkeyed = [client.post(f"/v1/tasks/{second}/retry") for _ in range(2)]
    assert [r.status_code for r in unkeyed] == [202, 202] and unkeyed[0].json()["id"] != unkeyed[1].json()["id"]


async def test_long_lived_requests_have_their_own_cap(tmp_path: Path) -> None:
    """200 idle event streams on a replica capped at 150: 50 are refused with 503 + Retry-After, submits still
    answer at once, waits beyond the cap are refused before anything is stored, and closed streams free their
    slots."""
    cap, clients = 150, 200
    args = local_args(tmp_path, server={"max_long_lived": cap, "max_wait_s": 30, "sse_heartbeat_s": 0.5})
    limits = httpx.Limits(max_connections=clients + 50, max_keepalive_connections=clients + 50)
    with results_app(args) as app:
        async with httpx.AsyncClient(base_url=app.url, timeout=30, limits=limits) as http:
            held = (await http.post("/v1/tasks", json=job("hold:idle"))).json()["id"]

            async def stream() -> httpx.Response:
                return await http.send(http.build_request("GET", f"/v1/tasks/{held}/events"), stream=True)

            streams = await asyncio.gather(*(stream() for _ in range(clients)))
            try:
                opened = [r for r in streams if r.status_code == 200]
                refused = [r for r in streams if r.status_code != 200]
                assert len(opened) == cap and len(refused) == clients - cap
                for r in refused:
                    await r.aread()
                    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
                    assert r.json()["error"]["type"] == "service_unavailable"

                latencies, submitted = [], []
                for i in range(10):
                    started = time.monotonic()
                    r = await http.post("/v1/tasks", json=job(f"free-{i}"))
                    latencies.append(time.monotonic() - started)
                    assert r.status_code == 202
                    submitted.append(r.json()["id"])
                assert max(latencies) < 5, latencies  # generous: a loaded 2-core box, not a queue behind streams
                assert (await http.get(f"/v1/tasks/{held}")).status_code == 200  # a plain read needs no slot

                waited = await http.get(f"/v1/tasks/{held}", params={"wait": 10})
                assert waited.status_code == 503 and "retry-after" in waited.headers
                tag = str(uuid.uuid4())
                r = await http.post("/v1/tasks", json=job("w", metadata={"tag": tag}), headers={"Prefer": "wait=10"})
                assert r.status_code == 503 and r.json()["error"]["type"] == "service_unavailable"
                tasks = (await http.get("/v1/tasks", params={"limit": 200})).json()["data"]
                assert not [t for t in tasks if t["metadata"].get("tag") == tag]  # refused before it was stored

                deadline = time.monotonic() + 30
                while (done := (await http.get(f"/v1/tasks/{submitted[0]}")).json())["status"] != "succeeded":
                    assert time.monotonic() < deadline, done
                    await asyncio.sleep(0.05)
                r = await http.get(f"/v1/tasks/{submitted[0]}", params={"wait": 10})  # ended: answered, no slot
                assert r.status_code == 200 and r.json()["status"] == "succeeded"
            finally:
                for r in streams:
                    await r.aclose()

            deadline = time.monotonic() + 30  # the server sees the disconnects and frees every slot
            while True:
                again = await asyncio.gather(*(stream() for _ in range(cap)))
                codes = [r.status_code for r in again]
                for r in again:
                    await r.aclose()
                if codes == [200] * cap:
                    break
                assert time.monotonic() < deadline, codes
                await asyncio.sleep(0.2)
            app.gates.open("idle")
            r = await http.post("/v1/tasks", json=job("after"), headers={"Prefer": "wait=20"})
            assert r.status_code == 200 and r.json()["status"] == "succeeded"
