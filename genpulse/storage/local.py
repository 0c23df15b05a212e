"""LocalStorage: assets as files in a data directory (the zero-setup default; one node, or a shared mount)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from genpulse.errors import NotFound, ServiceUnavailable
from genpulse.schemas import Asset, new_id
from genpulse.storage.base import image_size

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
        return f"{self._base}/v1/assets/{asset_id}/content"

    def put(self, data: bytes, content_type: str) -> Asset:
        asset_id = new_id("ast")
        width, height = image_size(data, content_type)
        asset = Asset(
            id=asset_id,
            content_type=content_type,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            url=self.url(asset_id),
            width=width,
            height=height,
        )
        blob, meta = self._paths(asset_id)
        blob.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(blob, data)
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

    def delete(self, asset_id: str) -> None:
        for p in self._paths(asset_id)[::-1]:
            p.unlink(missing_ok=True)

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
