"""LocalStorage: assets as files in a data directory (the zero-setup default; one node, or a shared mount)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from genpulse.core.errors import NotFound, ServiceUnavailable
from genpulse.core.schemas import DEFAULT_TENANT, Asset, new_id
from genpulse.media.storage.backend import content_url, image_size

_ID = re.compile(r"^ast_[0-9a-f]{24}$")


class LocalStorage:
    def __init__(self, root: Path, public_base_url: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self._base = (public_base_url or "").rstrip("/")
        (self.root / "assets").mkdir(parents=True, exist_ok=True)

    def _paths(self, asset_id: str) -> tuple[Path, Path]:
        if not _ID.match(asset_id):
            raise NotFound(f"asset {asset_id} not found")
        folder = self.root / "assets" / asset_id[4:8]
        return folder / asset_id, folder / f"{asset_id}.json"

    def url(self, asset_id: str) -> str:
        return content_url(self._base, asset_id)

    def put(self, data: bytes, content_type: str, tenant_id: str = DEFAULT_TENANT) -> Asset:
        return self.put_file(io.BytesIO(data), content_type, tenant_id)

    def put_file(self, fh: BinaryIO, content_type: str, tenant_id: str = DEFAULT_TENANT) -> Asset:
        asset_id = new_id("ast")
        blob, meta = self._paths(asset_id)
        blob.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=blob.parent, prefix=".tmp-")
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "w+b") as out:
                while block := fh.read(1 << 20):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
                out.seek(0)
                width, height = image_size(out, content_type)
            os.replace(tmp, blob)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        asset = Asset(
            id=asset_id,
            content_type=content_type,
            bytes=size,
            sha256=digest.hexdigest(),
            url=self.url(asset_id),
            width=width,
            height=height,
            tenant_id=tenant_id,
        )
        _atomic_write(meta, asset.model_dump_json().encode())  # written last: an asset exists once this does
        return asset

    def get(self, asset_id: str) -> Asset:
        _, meta = self._paths(asset_id)
        try:
            asset = Asset.model_validate_json(meta.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"asset {asset_id} not found") from None
        return asset.model_copy(update={"url": self.url(asset_id)})

    def read(self, asset_id: str) -> bytes:
        blob, _ = self._paths(asset_id)
        self.get(asset_id)
        return blob.read_bytes()

    def path(self, asset_id: str) -> Path:
        """The file holding an asset's bytes (for zero-copy file responses)."""
        self.get(asset_id)
        return self._paths(asset_id)[0]

    def presign(self, asset_id: str) -> None:
        """Local files cannot be fetched directly: ``/content`` serves them."""
        return None

    def delete(self, asset_id: str) -> None:
        for p in self._paths(asset_id)[::-1]:
            p.unlink(missing_ok=True)

    def expired(self, cutoff: float) -> Iterator[str]:
        for meta in (self.root / "assets").glob("*/ast_*.json"):
            try:
                asset = Asset.model_validate_json(meta.read_bytes())
            except (OSError, ValueError):  # vanished or half-written meanwhile
                continue
            if asset.created_at < cutoff:
                yield asset.id

    def ping(self) -> None:
        probe = self.root / "assets"
        if not (probe.is_dir() and os.access(probe, os.W_OK)):
            raise ServiceUnavailable(f"local storage {probe} is not a writable directory")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
