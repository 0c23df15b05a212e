"""The Storage contract: where every output and upload lives as an Asset.

- ``put`` stores bytes, ``put_file`` a seekable binary file from its current position (streamed: large
  uploads and downloads never sit in memory whole); both return the Asset (id, size, sha256, content type,
  dimensions for images) and ``tenant_id`` its owner (default: the built-in tenant; the API shows an asset to its
  owner only; GenPulse's own intermediate assets belong to ``SYSTEM_TENANT``). They are synchronous (file or
  network I/O): async callers run them in a thread.
- ``get`` returns an Asset's metadata (``NotFound`` for an unknown id); its ``url`` is the stable API URL
  ``{public_base_url}/v1/assets/{id}/content``, which is what tasks keep. ``read`` returns the bytes.
- ``presign(asset_id)`` is a short-lived GET URL made on every call and never stored, where the backend's objects
  can be fetched directly (S3), else None. ``/content`` redirects to it; vendors get it for image inputs.
- ``path(asset_id)`` is the local file holding the bytes, where there is one (local storage), else None:
  ``/content`` then answers with the file, zero-copy.
- ``delete`` is idempotent. ``ping`` raises ``ServiceUnavailable`` when the backend cannot be used.
- ``expired(cutoff)`` yields the ids of assets created before ``cutoff`` (unix seconds), for retention.
Backend failures are raised as ``ServiceUnavailable`` (retryable); nothing backend-specific leaks out.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from genpulse.core.schemas import DEFAULT_TENANT, Asset


@runtime_checkable
class Storage(Protocol):
    def put(self, data: bytes, content_type: str, tenant_id: str = DEFAULT_TENANT) -> Asset: ...

    def put_file(self, fh: BinaryIO, content_type: str, tenant_id: str = DEFAULT_TENANT) -> Asset: ...

    def get(self, asset_id: str) -> Asset: ...

    def read(self, asset_id: str) -> bytes: ...

    def presign(self, asset_id: str) -> str | None: ...

    def path(self, asset_id: str) -> Path | None: ...

    def delete(self, asset_id: str) -> None: ...

    def ping(self) -> None: ...

    def expired(self, cutoff: float) -> Iterator[str]: ...


def content_url(public_base_url: str | None, asset_id: str) -> str:
    return f"{(public_base_url or '').rstrip('/')}/v1/assets/{asset_id}/content"


def image_size(data: bytes | BinaryIO, content_type: str) -> tuple[int | None, int | None]:
    """Pixel size of an image payload (bytes or a seekable file, rewound after), or (None, None)."""
    if not content_type.startswith("image/"):
        return None, None
    from PIL import Image

    fh = io.BytesIO(data) if isinstance(data, bytes) else data
    start = fh.tell()
    try:
        with Image.open(fh) as img:
            return img.size
    except Exception:  # not decodable: keep the bytes, skip the dimensions
        return None, None
    finally:
        fh.seek(start)


def hash_file(fh: BinaryIO, chunk: int = 1 << 20) -> tuple[str, int]:
    """(sha256 hex, size) of a seekable file from its current position; rewinds it after."""
    import hashlib

    start = fh.tell()
    digest, size = hashlib.sha256(), 0
    while block := fh.read(chunk):
        digest.update(block)
        size += len(block)
    fh.seek(start)
    return digest.hexdigest(), size
