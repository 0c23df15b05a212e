"""Storage backends, chosen by ``storage.type``."""

from __future__ import annotations

from genpulse.config import StorageConfig
from genpulse.storage.base import Storage
from genpulse.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "open_storage"]


def open_storage(config: StorageConfig) -> Storage:
    return LocalStorage(config.path, config.public_base_url)
