"""POST /v1/assets and /content through the real FastAPI app (TestClient), on local storage and on S3 (moto)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from genpulse.api.app import create_api
from genpulse.core.config import AppArgs, StorageConfig
from genpulse.wiring.in_process import build_local
from tests.storage.media import MP4_HEAD, jpeg, padded_png

LIMIT = 1000


def _client(storage: dict[str, Any]) -> TestClient:
    args = AppArgs.load({"storage": {"max_upload_bytes": LIMIT, **storage}})
    app = create_api(args.server.max_body_bytes)
    app.state.service = build_local(args).service
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client({"path": str(tmp_path / "data")}) as c:
        yield c


@pytest.fixture
def s3_client(s3_config: StorageConfig) -> Iterator[TestClient]:
    with _client(s3_config.model_dump(include={"type", "bucket", "region", "endpoint_url", "prefix"})) as c:
        yield c


def _upload(client: TestClient, data: bytes, name: str = "x.png", ctype: str = "image/png") -> httpx.Response:
    return client.post("/v1/assets", files={"file": (name, data, ctype)})


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_exactly_the_limit_is_stored_and_served(client: TestClient) -> None:
    data = padded_png(LIMIT)
    response = _upload(client, data)
    assert response.status_code == 201, response.text
    asset = response.json()
    assert (asset["bytes"], asset["sha256"]) == (LIMIT, hashlib.sha256(data).hexdigest())
    assert (asset["content_type"], asset["width"], asset["height"]) == ("image/png", 8, 6)
    assert client.get(f"/v1/assets/{asset['id']}").json() == asset
    content = client.get(asset["url"])
    assert content.content == data
    assert content.headers["content-type"] == "image/png"


def test_one_byte_over_the_limit_is_413(client: TestClient) -> None:
    error = _error(_upload(client, padded_png(LIMIT + 1)), 413)
    assert error["type"] == "payload_too_large"
    assert error["details"] == {"field": "file", "max_bytes": LIMIT}


def test_a_huge_declared_body_is_refused_before_reading(client: TestClient) -> None:
    headers = {"content-type": "multipart/form-data; boundary=xyz", "content-length": str(10 * LIMIT + (1 << 20))}
    assert _error(client.post("/v1/assets", content=b"--xyz", headers=headers), 413)["type"] == "payload_too_large"


def test_an_empty_file_is_422(client: TestClient) -> None:
    error = _error(_upload(client, b""), 422)
    assert (error["type"], error["details"]["field"]) == ("invalid_request", "file")


def test_one_byte_is_an_unknown_type(client: TestClient) -> None:
    error = _error(_upload(client, b"\x89"), 415)
    assert error["details"]["content_type"] is None


def test_a_wrong_type_is_415_whatever_the_client_claims(client: TestClient) -> None:
    error = _error(_upload(client, b"%PDF-1.7\n" + b"x" * 100, "a.png", "image/png"), 415)
    assert error["type"] == "unsupported_media_type"
    assert "image/png" in error["details"]["accepted"]


def test_the_type_is_sniffed_from_the_bytes(client: TestClient) -> None:
    assert _upload(client, jpeg(), "notes.txt", "text/plain").json()["content_type"] == "image/jpeg"
    assert _upload(client, MP4_HEAD + b"\0" * 64, "v.bin", "application/octet-stream").json()["content_type"] == (
        "video/mp4"
    )


def test_a_truncated_multipart_body_is_400(client: TestClient) -> None:
    body = (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + padded_png(200)
    )
    headers = {"content-type": "multipart/form-data; boundary=BOUNDARY"}
    error = _error(client.post("/v1/assets", content=body, headers=headers), 400)
    assert error["type"] == "malformed_request"
    assert "truncated" in error["message"]


def test_the_file_field_is_required_once(client: TestClient) -> None:
    assert _error(client.post("/v1/assets", files={"image": ("a.png", padded_png(100))}), 422)["details"] == {
        "field": "file"
    }
    twice = [("file", ("a.png", padded_png(100))), ("file", ("b.png", padded_png(100)))]
    assert "once" in _error(client.post("/v1/assets", files=twice), 422)["message"]


def test_other_form_fields_are_ignored(client: TestClient) -> None:
    response = client.post("/v1/assets", data={"note": "hello"}, files={"file": ("a.png", padded_png(300))})
    assert response.status_code == 201
    assert response.json()["bytes"] == 300


def test_a_body_that_is_not_multipart_is_415(client: TestClient) -> None:
    assert _error(client.post("/v1/assets", json={"file": "x"}), 415)["details"] == {"field": "file"}


def test_s3_content_redirects_to_a_presigned_url(s3_client: TestClient) -> None:
    data = padded_png(LIMIT)
    asset = _upload(s3_client, data).json()
    assert asset["url"] == f"/v1/assets/{asset['id']}/content"
    assert s3_client.get(f"/v1/assets/{asset['id']}").json()["sha256"] == hashlib.sha256(data).hexdigest()
    redirect = s3_client.get(asset["url"], follow_redirects=False)
    assert redirect.status_code == 307
    location = redirect.headers["location"]
    assert "X-Amz-Signature=" in location
    assert httpx.get(location).content == data
    assert s3_client.get("/v1/assets/ast_000000000000000000000000/content").status_code == 404


def test_the_upload_form_is_in_the_openapi_schema(client: TestClient) -> None:
    upload = client.get("/openapi.json").json()["paths"]["/v1/assets"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"] and schema["properties"]["file"]["format"] == "binary"
    assert {"201", "413", "415"} <= set(upload["responses"])
