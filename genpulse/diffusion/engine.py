"""DiffusionEngine: loads a diffusers pipeline and turns validated params into PNG images.

Plain Python (the Serve deployment is a thin shell around it). torch and diffusers are imported here and only
here, lazily, so the ingress never pays for them. ``generate`` is synchronous and CPU/GPU bound: call it from a
thread (Serve runs sync methods in its thread pool), never from an event loop.
"""

from __future__ import annotations

import io
import random
import threading
from pathlib import Path
from typing import Any

from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ConfigError, ExecutionError
from genpulse.diffusion.diffusers_provider import TextToImageParams


class DiffusionEngine:
    def __init__(self, config: DiffusionConfig) -> None:
        import torch
        from diffusers import DiffusionPipeline

        self.config = config
        self.model_path = resolve_model(config)
        self.device = _device(config.device, torch)
        self.dtype = _dtype(config.dtype, self.device, torch)
        self._torch = torch
        self._lock = threading.Lock()  # one pipeline call at a time per replica
        self.pipe = DiffusionPipeline.from_pretrained(self.model_path, torch_dtype=self.dtype)
        if hasattr(self.pipe, "safety_checker"):
            self.pipe.safety_checker = None
        self.pipe = self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)

    def info(self) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "path": str(self.model_path),
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    def generate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run one request. Returns ``{"images": [png bytes...], "seed", "width", "height"}``."""
        p = TextToImageParams.model_validate(params)
        seed = p.seed if p.seed is not None else random.randrange(2**63)
        generator = self._torch.Generator(device="cpu").manual_seed(seed)
        try:
            with self._lock, self._torch.inference_mode():
                out = self.pipe(
                    prompt=p.prompt,
                    negative_prompt=p.negative_prompt,
                    width=p.width,
                    height=p.height,
                    num_inference_steps=p.num_inference_steps,
                    guidance_scale=p.guidance_scale,
                    num_images_per_prompt=p.num_images,
                    generator=generator,
                    output_type="pil",
                )
        except (RuntimeError, ValueError) as exc:
            raise ExecutionError(f"diffusion failed: {exc}", retryable=isinstance(exc, RuntimeError)) from None
        return {
            "images": [_png(img) for img in out.images],
            "seed": seed,
            "width": p.width,
            "height": p.height,
        }


def resolve_model(config: DiffusionConfig) -> Path:
    """The model directory: the built-in tiny model (built on first use) or a configured local directory."""
    if config.model == "tiny":
        from genpulse.diffusion.tiny import ensure_tiny_model

        return ensure_tiny_model(config.cache_dir)
    path = Path(config.model).expanduser()
    if not (path / "model_index.json").is_file():
        raise ConfigError(
            f"diffusion.model: {config.model!r} is neither 'tiny' nor a diffusers model directory "
            "(no model_index.json); GenPulse never downloads weights at run time"
        )
    return path


def _device(choice: str, torch: Any) -> str:
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("diffusion.device: 'cuda' requested but CUDA is not available")
    return choice


def _dtype(choice: str, device: str, torch: Any) -> Any:
    if choice == "auto":
        return torch.float16 if device == "cuda" else torch.float32
    return getattr(torch, choice)


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
