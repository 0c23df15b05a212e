"""First frames for image-to-video: validate an image and fit it to a video vendor's input rules.

``prepare_frame(data, spec)`` decodes the image (a corrupt or oversized one is ``InvalidRequest``), applies its
EXIF orientation, center-crops it into the vendor's aspect-ratio range, scales it into the vendor's side limits
and encodes it as JPEG, lowering the quality until it fits ``max_bytes``. Pure CPU on bytes: it runs as a Ray
task in a cluster (``genpulse.pipelines.steps``), in a thread otherwise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from genpulse.core.errors import InvalidRequest


@dataclass(frozen=True)
class FrameSpec:
    min_side: int = 300
    max_side: int = 2048
    min_ratio: float = 0.4  # width / height
    max_ratio: float = 2.5
    max_bytes: int = 10 << 20


# What each video vendor documents for its first frame (see providers.md); others get the default.
FRAME_SPECS: dict[str, FrameSpec] = {
    "kling": FrameSpec(min_side=300, max_side=4096, min_ratio=0.4, max_ratio=2.5, max_bytes=10 << 20),
    "tencent": FrameSpec(min_side=300, max_side=4096, min_ratio=0.25, max_ratio=4.0, max_bytes=10 << 20),
}


def spec_for(provider: str) -> FrameSpec:
    return FRAME_SPECS.get(provider, FrameSpec())


def prepare_frame(data: bytes, spec: FrameSpec, field: str = "params.image") -> tuple[bytes, int, int]:
    """JPEG bytes of the fitted frame, and its width and height."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            img = ImageOps.exif_transpose(source).convert("RGB")
    except Image.DecompressionBombError:
        raise InvalidRequest(f"{field}: image has too many pixels", details={"field": field}) from None
    except Exception:
        raise InvalidRequest(f"{field}: not a decodable image", details={"field": field}) from None
    width, height = img.size
    if width / height > spec.max_ratio:
        keep = round(height * spec.max_ratio)
        img = img.crop(((width - keep) // 2, 0, (width - keep) // 2 + keep, height))
    elif width / height < spec.min_ratio:
        keep = round(width / spec.min_ratio)
        img = img.crop((0, (height - keep) // 2, width, (height - keep) // 2 + keep))
    width, height = img.size
    scale = min(1.0, spec.max_side / max(width, height))
    if min(width, height) * scale < spec.min_side:
        scale = spec.min_side / min(width, height)
    if scale != 1.0:
        img = img.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
    for quality in (92, 80, 65, 50):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= spec.max_bytes:
            return buf.getvalue(), img.width, img.height
    raise InvalidRequest(f"{field}: image does not fit in {spec.max_bytes} bytes", details={"field": field})
