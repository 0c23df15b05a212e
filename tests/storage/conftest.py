"""Storage fixtures: moto's S3 server as a real HTTP server on 127.0.0.1 (a subprocess), one per session.

Each test gets its own empty bucket; credentials are dummies set in the environment, so boto3's ordinary
chain finds them. The server is stopped by PID.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genpulse.core.config import StorageConfig
from genpulse.media.storage.local_storage import LocalStorage
from genpulse.media.storage.s3_storage import S3Storage
from tests.conftest import free_port, wait_for

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    binary = shutil.which("moto_server")
    command = [binary] if binary else [sys.executable, "-m", "moto.server"]
    port = free_port()
    proc = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError("moto_server exited")
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, 0.1, "moto_server")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def s3_config(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> StorageConfig:
    """A fresh bucket on the moto server, and the StorageConfig that points at it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"gp-{uuid.uuid4().hex[:12]}"
    config = StorageConfig(type="s3", bucket=bucket, region=REGION, endpoint_url=moto_endpoint, prefix="test/")
    S3Storage(config)._client.create_bucket(Bucket=bucket)
    return config


@pytest.fixture
def s3_storage(s3_config: StorageConfig) -> S3Storage:
    return S3Storage(s3_config)


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "data")
