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
