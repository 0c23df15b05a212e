"""Image inputs in task params (image-to-video first frames, reference images).

Accepted: an asset id (``ast_...``), an ``https://`` URL, a ``data:image/...;base64,`` URI, or raw base64.
``ImageRef`` validates the shape at submit time; ``split_image`` gives a vendor module the form it must send
(URL, raw base64, data URI).

Asset ids (uploads from ``POST /v1/assets``, earlier outputs) are resolved into a presigned URL or a data URI by
``genpulse.media.inputs.resolve_asset_refs`` before a vendor module sees them; vendor modules only call ``split_image``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_IMAGE_CHARS = 14_000_000  # about 10 MB of base64
_DATA_URI = re.compile(r"^data:(image/[a-zA-Z0-9.+-]+);base64,(.*)$", re.S)
_ASSET_ID = re.compile(r"^ast_[0-9a-f]{24}$")


@dataclass(frozen=True)
class ImageValue:
    url: str | None = None
    b64: str | None = None
    mime: str = "image/png"

    @property
    def data_uri(self) -> str | None:
        return f"data:{self.mime};base64,{self.b64}" if self.b64 is not None else None

    @property
    def url_or_data_uri(self) -> str:
        return self.url or self.data_uri or ""


def split_image(value: str) -> ImageValue:
    if value.startswith("https://") or value.startswith("http://"):
        return ImageValue(url=value)
    match = _DATA_URI.match(value)
    if match:
        return ImageValue(b64=match.group(2).strip(), mime=match.group(1))
    return ImageValue(b64=value.strip(), mime=_sniff(value))


def _sniff(b64: str) -> str:
    head = b64[:16]
    if head.startswith("/9j/"):
        return "image/jpeg"
    if head.startswith("UklGR"):
        return "image/webp"
    return "image/png"


def _check(value: str) -> str:
    value = value.strip()
    if value.startswith("https://") or _ASSET_ID.match(value):
        return value
    if value.startswith("http://"):
        raise ValueError("image URLs must use https")
    match = _DATA_URI.match(value)
    payload = match.group(2) if match else value
    if value.startswith("data:") and not match:
        raise ValueError("data URIs must look like data:image/<type>;base64,<data>")
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not an https URL, a data:image URI or valid base64") from None
    if not payload:
        raise ValueError("empty image")
    return value


ImageRef = Annotated[
    str,
    Field(
        min_length=8,
        max_length=MAX_IMAGE_CHARS,
        description="An image: an asset id (ast_...), an https URL, a data:image/...;base64 URI, or raw base64.",
    ),
    AfterValidator(_check),
]
