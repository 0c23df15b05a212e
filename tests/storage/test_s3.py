"""S3Storage specifics against moto's S3 server: presigned URLs, multipart uploads, metadata, failures."""

from __future__ import annotations

import hashlib
import io
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from genpulse.core.config import AppArgs, StorageConfig
from genpulse.core.errors import ConfigError, ServiceUnavailable
from genpulse.media.storage import open_storage
from genpulse.media.storage.s3_storage import S3Storage
from tests.conftest import free_port
from tests.storage.media import png


def test_presigned_url_downloads_the_exact_bytes(s3_storage: S3Storage) -> None:
    data = png(5, 4)
    asset = s3_storage.put(data, "image/png")
    url = s3_storage.presign(asset.id)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["3600"]
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"


def test_presign_lifetime_is_configurable(s3_config: StorageConfig) -> None:
    storage = S3Storage(s3_config.model_copy(update={"presign_ttl_s": 60}))
    asset = storage.put(b"abc", "text/plain")
    assert parse_qs(urlsplit(storage.presign(asset.id)).query)["X-Amz-Expires"] == ["60"]
    assert parse_qs(urlsplit(storage.presign(asset.id, 5)).query)["X-Amz-Expires"] == ["5"]


def test_sha256_and_size_are_object_metadata(s3_storage: S3Storage) -> None:
    data = png(3, 2)
    asset = s3_storage.put(data, "image/png")
    head = s3_storage._client.head_object(Bucket=s3_storage.bucket, Key=f"test/assets/{asset.id}")
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert (head["Metadata"]["width"], head["Metadata"]["height"]) == ("3", "2")
    assert head["ContentType"] == "image/png"


def test_large_payloads_are_uploaded_in_parts(s3_config: StorageConfig) -> None:
    config = s3_config.model_copy(update={"multipart_threshold_bytes": 5 << 20, "multipart_chunk_bytes": 5 << 20})
    storage = S3Storage(config)
    data = bytes(range(256)) * ((6 << 20) // 256)
    asset = storage.put_file(io.BytesIO(data), "video/mp4")
    head = storage._client.head_object(Bucket=storage.bucket, Key=f"test/assets/{asset.id}")
    assert head["ETag"].strip('"').endswith("-2")  # two parts
    assert httpx.get(storage.presign(asset.id)).content == data
    assert storage.get(asset.id).sha256 == hashlib.sha256(data).hexdigest()


def test_missing_bucket_is_service_unavailable(s3_config: StorageConfig) -> None:
    storage = S3Storage(s3_config.model_copy(update={"bucket": "no-such-bucket-here"}))
    with pytest.raises(ServiceUnavailable, match="no-such-bucket-here"):
        storage.ping()
    with pytest.raises(ServiceUnavailable):
        storage.put(b"x", "text/plain")


def test_unreachable_endpoint_is_service_unavailable(s3_config: StorageConfig) -> None:
    import boto3
    from botocore.config import Config

    endpoint = f"http://127.0.0.1:{free_port()}"
    client = boto3.client("s3", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))
    storage = S3Storage(s3_config.model_copy(update={"endpoint_url": endpoint}), client=client)
    with pytest.raises(ServiceUnavailable):
        storage.ping()


def test_open_storage_picks_s3_from_config(s3_config: StorageConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPULSE_STORAGE__TYPE", "s3")
    monkeypatch.setenv("GENPULSE_STORAGE__BUCKET", s3_config.bucket or "")
    monkeypatch.setenv("GENPULSE_STORAGE__ENDPOINT_URL", s3_config.endpoint_url or "")
    storage = open_storage(AppArgs.load({}).storage)
    assert isinstance(storage, S3Storage)
    storage.ping()


def test_without_boto3_the_error_names_the_extra(s3_config: StorageConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ConfigError, match=r"genpulse\[s3\]"):
        S3Storage(s3_config)
