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

from genpulse.providers.registry import ENTRIES
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


def _finite_number_errors(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request"
    return [d["field"] for d in error["details"] if d["type"] == "finite_number"]


NON_FINITE = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_422_naming_the_field(client: httpx.Client, number: str) -> None:
    """Valid JSON (1e999) or what Python's parser accepts (NaN): refused before anything is stored, never a 500."""
    marker = f"non-finite-{number}"
    for field, body in (
        ("deadline_s", {**FOX, "metadata": {"marker": marker}, "deadline_s": 0.125}),
        ("metadata.scores.1.x", {**FOX, "metadata": {"marker": marker, "scores": [1, {"x": 0.125}]}}),
        ("params.guidance_scale", {**FOX, "metadata": {"marker": marker}, "params": {"guidance_scale": 0.125}}),
    ):
        raw = json.dumps(body).replace("0.125", number)
        r = client.post("/v1/tasks", content=raw, headers={"content-type": "application/json"})
        assert _finite_number_errors(r) == [field], raw
    text = number.lower().replace("1e999", "inf")  # and as a string for a float field: "inf", "nan"
    r = client.post("/v1/tasks", json={**FOX, "metadata": {"marker": marker}, "deadline_s": text})
    assert _finite_number_errors(r) == ["deadline_s"]
    listed = client.get("/v1/tasks", params={"limit": 200}).json()["data"]
    assert not [t for t in listed if t["metadata"].get("marker") == marker]


@pytest.mark.parametrize("wait", ["inf", "-inf", "nan", "Infinity", "1e999"])
def test_non_finite_query_numbers_are_422(client: httpx.Client, wait: str) -> None:
    r = client.get("/v1/tasks/tsk_000000000000000000000000", params={"wait": wait})
    assert _finite_number_errors(r) == ["query.wait"]


def _number_fields(schema: dict, defs: dict, path: str = "") -> Iterator[tuple[str, bool]]:
    """(dotted path, whether a string is also accepted) of every number in a params schema."""
    schema = defs[schema["$ref"].split("/")[-1]] if "$ref" in schema else schema
    types = {schema.get("type"), *(a.get("type") for a in schema.get("anyOf", []))}
    if "number" in types:
        yield path, "string" in types
    for name, sub in schema.get("properties", {}).items():
        yield from _number_fields(sub, defs, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from _number_fields(schema["items"], defs, f"{path}.0")


def _at(path: str, value: object) -> object:
    head, _, rest = path.partition(".")
    inner = _at(rest, value) if rest else value
    return [inner] if head == "0" else {head: inner}


def test_every_providers_number_params_refuse_non_finite_values(tmp_path: Path, tiny_cache: Path) -> None:
    creds = {"api_key": "k", "access_key": "a", "secret_key": "s", "base_url": "http://127.0.0.1:9"}
    providers = {name: {**creds, "servers": ["http://127.0.0.1:9"]} for name in ENTRIES}
    providers["diffusers"] = providers["pipeline"] = {}
    with running_app(local_args(tmp_path, tiny_cache, providers=providers)) as app, httpx.Client(base_url=app.url) as c:
        checked = []
        for info in c.get("/v1/providers").json()["data"]:
            for task_type, schema in c.get(f"/meta/schemas/{info['name']}").json()["task_types"].items():
                for path, takes_strings in _number_fields(schema, schema.get("$defs", {})):
                    checked.append(f"{info['name']}.{path}")
                    for number in NON_FINITE:
                        params = json.dumps(_at(path, 0.5)).replace("0.5", number)
                        raw = f'{{"provider": "{info["name"]}", "task_type": "{task_type}", "params": {params}}}'
                        r = c.post("/v1/tasks", content=raw, headers={"content-type": "application/json"})
                        assert _finite_number_errors(r) == [f"params.{path}"], raw
                    if not takes_strings:
                        for text in ("inf", "-inf", "nan"):
                            body = {"provider": info["name"], "task_type": task_type, "params": _at(path, text)}
                            r = c.post("/v1/tasks", json=body)
                            assert r.status_code == 422 and f"params.{path}" in r.text, (body, r.text)
        assert {"diffusers.guidance_scale", "kling.cfg_scale", "comfyui.inputs.0.value"} <= set(checked)
        assert c.get("/v1/tasks").json()["data"] == []


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
    assert "text-to-image" in providers["diffusers"]["task_types"] and providers["diffusers"]["configured"]
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
