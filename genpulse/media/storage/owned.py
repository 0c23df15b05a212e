"""OwnedStorage: a Storage whose new assets belong to one tenant (what a runner gets for its task's outputs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from genpulse.core.schemas import Asset
from genpulse.media.storage.backend import Storage


class OwnedStorage:
    def __init__(self, storage: Storage, tenant_id: str) -> None:
        self.inner, self.tenant_id = storage, tenant_id

    def put(self, data: bytes, content_type: str, tenant_id: str | None = None) -> Asset:
        return self.inner.put(data, content_type, tenant_id or self.tenant_id)

    def put_file(self, fh: BinaryIO, content_type: str, tenant_id: str | None = None) -> Asset:
        return self.inner.put_file(fh, content_type, tenant_id or self.tenant_id)

    def get(self, asset_id: str) -> Asset:
        return self.inner.get(asset_id)

    def read(self, asset_id: str) -> bytes:
        return self.inner.read(asset_id)

    def presign(self, asset_id: str) -> str | None:
        return self.inner.presign(asset_id)

    def path(self, asset_id: str) -> Path | None:
        return self.inner.path(asset_id)

    def delete(self, asset_id: str) -> None:
        self.inner.delete(asset_id)

    def ping(self) -> None:
        self.inner.ping()

    def expired(self, cutoff: float) -> Iterator[str]:
        return self.inner.expired(cutoff)
