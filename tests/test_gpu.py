"""The diffusion engine on CUDA (skipped without a GPU; CI never has one)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_tiny_model_on_cuda_fp16_is_deterministic(tiny_cache: Path) -> None:
    from genpulse.core.config import DiffusionConfig
    from genpulse.diffusion.engine import DiffusionEngine

    engine = DiffusionEngine(DiffusionConfig(cache_dir=tiny_cache, device="auto"))
    info = engine.model("tiny").info()
    assert info["device"] == "cuda" and info["dtype"] == "float16"
    params = {"prompt": "a red fox", "width": 64, "height": 64, "num_inference_steps": 4, "seed": 7}
    a, b = engine.generate(params), engine.generate(params)
    assert a["images"] == b["images"] and len(a["images"]) == 1


def test_batched_fp16_and_tiny_video_on_cuda(tiny_cache: Path) -> None:
    from genpulse.core.config import DiffusionConfig
    from genpulse.diffusion.engine import DiffusionEngine
    from genpulse.diffusion.mp4 import decode_mp4

    engine = DiffusionEngine(DiffusionConfig(cache_dir=tiny_cache, device="cuda", max_batch_size=8))
    base = {"width": 64, "height": 64, "num_inference_steps": 4}
    out = engine.generate_batch([{"prompt": f"fox {i}", "seed": i, **base} for i in range(8)])
    assert [r["batch_size"] for r in out] == [8] * 8
    video = engine.generate({"task_type": "text-to-video", "prompt": "a fox", "num_frames": 4, **base})
    assert decode_mp4(video["videos"][0]) == (4, 64, 64, "h264")
