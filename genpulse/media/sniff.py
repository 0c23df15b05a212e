"""Content types from magic bytes: what a payload is, whatever its sender claims.

``sniff(head)`` looks at the first bytes (``SNIFF_BYTES`` is enough) and returns a MIME type, or None when
the format is not one we recognise. Uploads, image inputs and re-hosted vendor outputs all go through it.
"""

from __future__ import annotations

SNIFF_BYTES = 64

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_IMAGE_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic", b"heix": "image/heic"}


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(head[8:12])
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        return _IMAGE_BRANDS.get(brand, "video/mp4")
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:SNIFF_BYTES] else "video/x-matroska"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def base_type(content_type: str | None) -> str:
    """``image/png; charset=x`` -> ``image/png`` (lower case); '' for None."""
    return (content_type or "").split(";")[0].strip().lower()
