"""Small JPEG previews of stored images, for galleries (``GET /v1/assets/{id}/thumbnail``)."""

from __future__ import annotations

import io

from genpulse.core.errors import UnsupportedMediaType


def thumbnail(data: bytes, content_type: str, size: int) -> bytes:
    """A JPEG of the image no larger than ``size`` pixels on either side; ``UnsupportedMediaType`` for non-images."""
    if not content_type.startswith("image/"):
        raise UnsupportedMediaType(f"no thumbnail for {content_type}: only images have one")
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (size, size))  # JPEG sources decode at a reduced scale
        small = image.convert("RGB")
        small.thumbnail((size, size))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=80)
    return out.getvalue()
