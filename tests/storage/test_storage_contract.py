"""The Storage contract, run against LocalStorage and S3Storage (moto server over real HTTP)."""

from __future__ import annotations

import hashlib
import io
import shutil
import time

import pytest

from genpulse.core.errors import NotFound, ServiceUnavailable
from genpulse.media.storage import Storage
from genpulse.media.storage.local_storage import LocalStorage
from genpulse.media.storage.s3_storage import S3Storage
from tests.storage.media import png


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    return request.getfixturevalue(f"{request.param}_storage")


def test_put_get_read_roundtrip(storage: Storage) -> None:
    data = png(8, 6)
    asset = storage.put(data, "image/png")
    assert asset.id.startswith("ast_")
    assert (asset.bytes, asset.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (asset.width, asset.height) == (8, 6)
    assert asset.url == f"/v1/assets/{asset.id}/content"
    got = storage.get(asset.id)
    assert got.model_dump(exclude={"created_at"}) == asset.model_dump(exclude={"created_at"})
    assert abs(got.created_at - asset.created_at) < 1e-3
    assert storage.read(asset.id) == data


def test_put_file_streams_from_current_position(storage: Storage) -> None:
    fh = io.BytesIO(b"skip" + b"video-bytes")
    fh.seek(4)
    asset = storage.put_file(fh, "video/mp4")
    assert storage.read(asset.id) == b"video-bytes"
    assert (asset.bytes, asset.width) == (11, None)
    assert storage.get(asset.id).sha256 == hashlib.sha256(b"video-bytes").hexdigest()


@pytest.mark.parametrize("asset_id", ["ast_000000000000000000000000", "ast_../../etc/passwd", "tsk_1", ""])
def test_unknown_ids_are_not_found(storage: Storage, asset_id: str) -> None:
    with pytest.raises(NotFound):
        storage.get(asset_id)
    with pytest.raises(NotFound):
        storage.read(asset_id)


def test_delete_is_idempotent(storage: Storage) -> None:
    asset = storage.put(b"x", "application/octet-stream")
    storage.delete(asset.id)
    storage.delete(asset.id)
    with pytest.raises(NotFound):
        storage.get(asset.id)


def test_expired_lists_assets_created_before_the_cutoff(storage: Storage) -> None:
    asset = storage.put(b"old", "text/plain")
    assert asset.id in set(storage.expired(time.time() + 5))
    assert asset.id not in set(storage.expired(time.time() - 3600))


def test_ping(storage: Storage) -> None:
    assert storage.ping() is None  # up: answers, with nothing
    if isinstance(storage, S3Storage):
        storage._client.delete_bucket(Bucket=storage.bucket)  # the bucket is gone
    else:
        assert isinstance(storage, LocalStorage)
        shutil.rmtree(storage.root / "assets")  # the asset directory is gone
    with pytest.raises(ServiceUnavailable):
        storage.ping()
