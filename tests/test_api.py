"""The HTTP API end to end over real HTTP, with the real tiny diffusion pipeline, in-process (no Ray)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.harness import RunningApp, local_args, running_app

FOX = {
    "provider": "diffusers",
    "task_type": "text-to-image",
    "params": {"prompt": "a red fox", "width": 64, "height": 64},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> Iterator[RunningApp]:
    args = local_args(
        tmp_path_factory.mktemp("api"),
        tiny_cache,
        diffusion={"default_steps": 4},
        server={"max_body_bytes": 4096, "max_wait_s": 30},
    )
    with running_app(args) as running:
        yield running


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, timeout=60) as c:
        yield c


def finished(client: httpx.Client, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:  # ?wait is capped by server.max_wait_s; a loaded CPU may need several rounds
        body = client.get(f"/v1/tasks/{task_id}", params={"wait": 30}).json()
        if body["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            break
    assert body["status"] in ("succeeded", "failed", "canceled"), body
    return body


def test_submit_run_store_download(client: httpx.Client) -> None:
    r = client.post("/v1/tasks", json=FOX)
    assert r.status_code == 202
    task = r.json()
    assert task["status"] == "queued" and task["id"].startswith("tsk_")
    assert r.headers["location"] == f"/v1/tasks/{task['id']}"
    done = finished(client, task["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1 and done["progress"] == 100
    (asset,) = done["result"]["assets"]
    assert asset["content_type"] == "image/png" and (asset["width"], asset["height"]) == (64, 64)
    content = client.get(asset["url"])
    assert content.status_code == 200 and content.headers["content-type"] == "image/png"
    assert len(content.content) == asset["bytes"]
    with Image.open(io.BytesIO(content.content)) as img:
        assert img.format == "PNG" and img.size == (64, 64)
    meta = client.get(f"/v1/assets/{asset['id']}").json()
    assert meta["sha256"] == asset["sha256"]


def test_same_seed_same_image(client: httpx.Client) -> None:
    body = {**FOX, "params": {**FOX["params"], "seed": 1234, "num_images": 2}}
    a = finished(client, client.post("/v1/tasks", json=body).json()["id"])
    b = finished(client, client.post("/v1/tasks", json=body).json()["id"])
    assert a["result"]["seed"] == b["result"]["seed"] == 1234
    assert [x["sha256"] for x in a["result"]["assets"]] == [x["sha256"] for x in b["result"]["assets"]]
    assert len(a["result"]["assets"]) == 2


def test_prefer_wait_returns_the_finished_task(client: httpx.Client) -> None:
    r = client.post("/v1/tasks", json=FOX, headers={"Prefer": "wait=30"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("body", "status", "err", "needle"),
    [
        ({**FOX, "provider": "nope"}, 422, "invalid_request", "diffusers"),
        ({**FOX, "task_type": "text-to-song"}, 422, "invalid_request", "text-to-image"),
        ({**FOX, "params": {"width": 64}}, 422, "invalid_request", "params.prompt"),
        ({**FOX, "params": {"prompt": "x", "width": 60}}, 422, "invalid_request", "params.width"),
        ({**FOX, "params": {"prompt": "x", "width": 4096}}, 422, "invalid_request", "params.width"),
        ({**FOX, "params": {"prompt": "x", "num_images": 9}}, 422, "invalid_request", "params.num_images"),
        ({**FOX, "params": {"prompt": "x", "sampler": "euler"}}, 422, "invalid_request", "params.sampler"),
        ({**FOX, "priority": "urgent"}, 422, "invalid_request", "priority"),
        ({"task_type": "text-to-image"}, 422, "invalid_request", "provider"),
    ],
)
def test_bad_input_is_a_clear_4xx(client: httpx.Client, body: dict, status: int, err: str, needle: str) -> None:
    r = client.post("/v1/tasks", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["type"] == err
    assert needle in json.dumps(error)


def test_malformed_json_is_400(client: httpx.Client) -> None:
    for raw in (b"{bad", b"[1, 2]", b'"text"'):
        r = client.post("/v1/tasks", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
        assert r.json()["error"]["type"] == "malformed_request"


def test_body_over_limit_is_413(client: httpx.Client) -> None:
    big = {**FOX, "metadata": {"blob": "x" * 5000}}
    r = client.post("/v1/tasks", json=big)
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield json.dumps(big).encode()

    r = client.post("/v1/tasks", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unknown_ids_are_404(client: httpx.Client) -> None:
    for path in (
        "/v1/tasks/tsk_000000000000000000000000",
        "/v1/assets/ast_000000000000000000000000",
        "/v1/assets/ast_000000000000000000000000/content",
        "/v1/assets/../../etc/passwd",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["type"] == "not_found"
    assert client.post("/v1/tasks/tsk_000000000000000000000000/cancel").status_code == 404


def test_cancel(client: httpx.Client) -> None:
    done = finished(client, client.post("/v1/tasks", json=FOX).json()["id"])
    r = client.post(f"/v1/tasks/{done['id']}/cancel")
    assert r.status_code == 409 and r.json()["error"]["type"] == "conflict"

    queued = client.post("/v1/tasks", json={**FOX, "params": {**FOX["params"], "num_inference_steps": 50}}).json()
    r = client.post(f"/v1/tasks/{queued['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert finished(client, queued["id"])["status"] == "canceled"  # the worker's late result is refused


def test_idempotency(client: httpx.Client) -> None:
    first = client.post("/v1/tasks", json=FOX, headers={"Idempotency-Key": "abc-1"})
    again = client.post("/v1/tasks", json=FOX, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]
    in_body = client.post("/v1/tasks", json={**FOX, "idempotency_key": "abc-1"})
    assert in_body.json()["id"] == first.json()["id"]
    other = client.post("/v1/tasks", json={**FOX, "params": {"prompt": "a cat"}}, headers={"Idempotency-Key": "abc-1"})
    assert other.status_code == 409


def test_deadline_failure_and_retry(client: httpx.Client) -> None:
    failed = finished(client, client.post("/v1/tasks", json={**FOX, "deadline_s": 0.001}).json()["id"])
    assert failed["status"] == "failed" and failed["error"]["type"] == "provider_timeout"
    dead_letters = client.get("/v1/tasks", params={"status": "failed"}).json()["data"]
    assert failed["id"] in [t["id"] for t in dead_letters]
    r = client.post(f"/v1/tasks/{failed['id']}/retry")
    assert r.status_code == 202
    rerun = r.json()
    assert rerun["retry_of"] == failed["id"] and rerun["id"] != failed["id"]
    assert client.get(f"/v1/tasks/{failed['id']}").json()["status"] == "failed"  # terminal records never change
    ok = finished(client, client.post("/v1/tasks", json=FOX).json()["id"])
    assert client.post(f"/v1/tasks/{ok['id']}/retry").status_code == 409


def test_list_filters_and_cursor(client: httpx.Client) -> None:
    ids = [client.post("/v1/tasks", json=FOX).json()["id"] for _ in range(3)]
    for task_id in ids:
        finished(client, task_id)
    page = client.get("/v1/tasks", params={"limit": 2, "provider": "diffusers"}).json()
    assert [t["id"] for t in page["data"]] == ids[::-1][:2] and page["next_cursor"]
    rest = client.get("/v1/tasks", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert rest["data"][0]["id"] == ids[0]
    assert client.get("/v1/tasks", params={"status": "bogus"}).status_code == 422
    assert client.get("/v1/tasks", params={"limit": 0}).status_code == 422


def test_providers_schemas_health_docs(client: httpx.Client) -> None:
    providers = {p["name"]: p for p in client.get("/v1/providers").json()["data"]}
    assert providers["diffusers"]["task_types"] == ["text-to-image"] and providers["diffusers"]["configured"]
    schema = client.get("/meta/schemas/diffusers").json()["task_types"]["text-to-image"]
    assert schema["required"] == ["prompt"] and schema["properties"]["width"]["multipleOf"] == 8
    assert client.get("/meta/schemas/nope").status_code == 422
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and set(ready.json()["checks"]) >= {"store", "storage"}
    spec = client.get("/openapi.json").json()
    for name in ("TaskRequest", "TaskPublic", "Asset", "ErrorEnvelope"):
        assert name in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["TaskRequest"]["properties"]["provider"]["description"]
    assert client.get("/docs").status_code == 200
