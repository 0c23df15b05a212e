"""The Storage contract: where every output (and, later, upload) lives as an Asset.

- ``put`` stores bytes and returns the Asset (id, size, sha256, content type, dimensions for images). It is
  synchronous (file or network I/O): async callers run it in a thread.
- ``get`` returns an Asset's metadata with a fresh URL (``NotFound`` for an unknown id); ``read`` its bytes.
- ``delete`` is idempotent. ``ping`` raises ``ServiceUnavailable`` when the backend cannot be used.
"""

from __future__ import annotations

import io
from typing import Protocol, runtime_checkable

from genpulse.schemas import Asset


@runtime_checkable
class Storage(Protocol):
    def put(self, data: bytes, content_type: str) -> Asset: ...

    def get(self, asset_id: str) -> Asset: ...

    def read(self, asset_id: str) -> bytes: ...

    def delete(self, asset_id: str) -> None: ...

    def ping(self) -> None: ...


def image_size(data: bytes, content_type: str) -> tuple[int | None, int | None]:
    """Pixel size of an image payload, or (None, None) for anything else."""
    if not content_type.startswith("image/"):
        return None, None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # not decodable: keep the bytes, skip the dimensions
        return None, None
