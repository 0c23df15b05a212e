"""Frames to an MP4 (H.264, yuv420p, ``+faststart``) with PyAV, and a PNG poster from the first frame.

PyAV (``av``, in the ``gpu`` extra) ships FFmpeg with libx264; it is imported here only, on first use.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any

from genpulse.core.errors import ExecutionError

CONTENT_TYPE = "video/mp4"


def _uint8(frames: Any) -> Any:
    import numpy as np

    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ExecutionError(f"expected frames shaped (n, height, width, 3), got {arr.shape}")
    return arr


def encode_mp4(frames: Any, fps: int) -> bytes:
    """``frames``: (n, height, width, 3), uint8 or floats in [0, 1]; even width and height."""
    try:
        import av
    except ImportError:
        raise ExecutionError("video output needs PyAV: pip install 'genpulse[gpu]' (or pip install av)") from None
    arr = _uint8(frames)
    fd, path = tempfile.mkstemp(suffix=".mp4")  # +faststart rewrites the file: it needs a real one
    os.close(fd)
    try:
        _write(av, arr, fps, path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def _write(av: Any, arr: Any, fps: int, path: str) -> None:
    with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = arr.shape[2], arr.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in arr:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def poster_png(frames: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_uint8(frames)[0]).save(buf, format="PNG")
    return buf.getvalue()


def decode_mp4(data: bytes) -> tuple[int, int, int, str]:
    """``(frames, width, height, codec)`` of an MP4, decoding every frame (for tests and checks)."""
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        return n, stream.width, stream.height, stream.codec_context.name
