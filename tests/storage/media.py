"""Small real media payloads for tests."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 8, height: int = 6, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(width: int = 8, height: int = 6) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def padded_png(size: int) -> bytes:
    """A valid PNG followed by padding (decoders stop at IEND), exactly ``size`` bytes long."""
    data = png()
    assert size >= len(data)
    return data + b"\0" * (size - len(data))


MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 16
