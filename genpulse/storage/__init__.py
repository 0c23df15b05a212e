"""Storage backends, chosen by ``storage.type`` (``local`` | ``s3``)."""

from __future__ import annotations

from collections.abc import Callable

from genpulse.config import StorageConfig
from genpulse.storage.base import Storage
from genpulse.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "open_storage"]


def _local(config: StorageConfig) -> Storage:
    return LocalStorage(config.path, config.public_base_url)


def _s3(config: StorageConfig) -> Storage:
    from genpulse.storage.s3 import S3Storage  # boto3 only when S3 is used

    return S3Storage(config)


_BACKENDS: dict[str, Callable[[StorageConfig], Storage]] = {"local": _local, "s3": _s3}


def open_storage(config: StorageConfig) -> Storage:
    return _BACKENDS[config.type](config)
