"""Small JPEG previews of stored images and videos, for galleries (``GET /v1/assets/{id}/thumbnail``).

A video's preview is its first frame, decoded with PyAV (``av``: in the ``gpu`` extra, or ``pip install av``),
imported here only, on the first video; a host without it answers ``UnsupportedMediaType`` for videos.
"""

from __future__ import annotations

import io
from typing import Any

from genpulse.core.errors import UnsupportedMediaType


def thumbnail(data: bytes, content_type: str, size: int) -> bytes:
    """A JPEG of the image (or the video's first frame) no larger than ``size`` pixels on either side;
    ``UnsupportedMediaType`` for other types, and for videos where PyAV is not installed."""
    from PIL import Image

    if content_type.startswith("video/"):
        return _jpeg(_first_frame(data, content_type), size)
    if not content_type.startswith("image/"):
        raise UnsupportedMediaType(f"no thumbnail for {content_type}: only images and videos have one")
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (size, size))  # JPEG sources decode at a reduced scale
        return _jpeg(image, size)


def _jpeg(image: Any, size: int) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def _first_frame(data: bytes, content_type: str) -> Any:
    try:
        import av
    except ImportError:
        raise UnsupportedMediaType(
            f"no thumbnail for {content_type} here: decoding video needs PyAV (pip install av)"
        ) from None
    try:
        with av.open(io.BytesIO(data)) as container:
            for frame in container.decode(video=0):
                return frame.to_image()
    except av.FFmpegError as exc:
        raise UnsupportedMediaType(f"no thumbnail for this {content_type}: it does not decode ({exc})") from None
    raise UnsupportedMediaType(f"no thumbnail for this {content_type}: it has no frame")
