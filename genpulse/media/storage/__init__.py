"""Storage backends, chosen by ``storage.type`` (``local`` | ``s3``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genpulse.core.config import StorageConfig
from genpulse.core.schemas import Asset
from genpulse.media.storage.backend import Storage
from genpulse.media.storage.local_storage import LocalStorage

__all__ = ["AssetContent", "LocalStorage", "Storage", "open_storage"]


@dataclass(frozen=True)
class AssetContent:
    """Where an asset's bytes can be served from: a presigned URL, a local file, or (last) a read."""

    asset: Asset
    presigned_url: str | None
    path: Path | None
    storage: Storage

    def read(self) -> bytes:
        return self.storage.read(self.asset.id)


def content_of(storage: Storage, asset_id: str) -> AssetContent:
    asset = storage.get(asset_id)  # NotFound first
    presigned = storage.presign(asset_id)
    return AssetContent(asset, presigned, None if presigned is not None else storage.path(asset_id), storage)


def _local(config: StorageConfig) -> Storage:
    return LocalStorage(config.path, config.public_base_url)


def _s3(config: StorageConfig) -> Storage:
    from genpulse.media.storage.s3_storage import S3Storage  # boto3 only when S3 is used

    return S3Storage(config)


_BACKENDS: dict[str, Callable[[StorageConfig], Storage]] = {"local": _local, "s3": _s3}


def open_storage(config: StorageConfig) -> Storage:
    return _BACKENDS[config.type](config)
