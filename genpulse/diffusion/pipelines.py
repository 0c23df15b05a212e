"""LoadedModel: one diffusers pipeline in memory, and one pipeline call per group of compatible jobs.

torch and diffusers are imported here (and in the builders) only. Image models run text-to-image and, through
the same components (``AutoPipelineForImage2Image.from_pipe``), image-to-image. Video models are
``TextToVideoSDPipeline``-shaped: text-to-video, and image-to-video as video-to-video over the input image
repeated (``VideoToVideoSDPipeline`` on the same components; its batched path mixes up per-request
generators, so image-to-video calls carry one request). Calls are synchronous: run them in a thread.
"""

from __future__ import annotations

import base64
import contextlib
import io
import threading
from typing import Any

from genpulse.core.config import DiffusionConfig
from genpulse.core.errors import ConfigError, ExecutionError, InvalidRequest, ResourceExhausted
from genpulse.diffusion import mp4
from genpulse.diffusion.batching import Job
from genpulse.diffusion.models import ModelSpec


class LoadedModel:
    def __init__(self, spec: ModelSpec, config: DiffusionConfig, path: Any) -> None:
        import torch
        from diffusers import DiffusionPipeline

        self.spec, self.config, self._torch = spec, config, torch
        self.device = _device(config.device, torch)
        self.dtype = _dtype(config.dtype, self.device, torch)
        self._lock = threading.Lock()  # one pipeline call at a time per model
        self._variants: dict[str, Any] = {}
        try:
            pipe = DiffusionPipeline.from_pretrained(path, torch_dtype=self.dtype)
        except Exception as exc:  # any way a directory can fail to load: the boundary translates it
            raise ConfigError(f"model {spec.name!r} failed to load from {path}: {exc}") from None
        if hasattr(pipe, "safety_checker"):
            pipe.safety_checker = None
        self.pipe = pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        if config.attention_slicing and hasattr(self.pipe, "enable_attention_slicing"):
            self.pipe.enable_attention_slicing()
        if config.vae_slicing and hasattr(getattr(self.pipe, "vae", None), "enable_slicing"):
            self.pipe.vae.enable_slicing()
        if config.compile and hasattr(self.pipe, "unet"):
            self.pipe.unet = torch.compile(self.pipe.unet)
        self.path = path

    def info(self) -> dict[str, Any]:
        return {"model": self.spec.name, "kind": self.spec.kind, "path": str(self.path), "device": self.device,
                "dtype": str(self.dtype).removeprefix("torch.")}  # fmt: skip

    def close(self) -> None:
        """Drop the pipeline (Serve's multiplexing calls ``__del__`` on LRU eviction)."""
        self.__dict__.pop("pipe", None)
        self._variants.clear()
        if self.device == "cuda":
            self._torch.cuda.empty_cache()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _variant(self, name: str) -> Any:
        if name not in self._variants:
            if name == "image-to-image":
                from diffusers import AutoPipelineForImage2Image

                pipe = AutoPipelineForImage2Image.from_pipe(self.pipe)
            else:
                from diffusers import VideoToVideoSDPipeline

                pipe = VideoToVideoSDPipeline(**self.pipe.components)
            pipe.set_progress_bar_config(disable=True)
            self._variants[name] = pipe
        return self._variants[name]

    def run(self, jobs: list[Job]) -> list[dict[str, Any]]:
        first = jobs[0]
        torch = self._torch
        try:
            with self._lock, torch.inference_mode():
                if first.task_type in ("text-to-image", "image-to-image"):
                    return self._images(jobs)
                return self._videos(jobs)
        except torch.cuda.OutOfMemoryError:
            self.close_cache()
            raise ResourceExhausted(
                f"out of GPU memory running {len(jobs)} request(s) on {self.spec.name!r}: lower the size, frames "
                "or batch (diffusion.max_batch_size), or give the model more memory"
            ) from None
        except RuntimeError as exc:
            if "can't allocate memory" in str(exc) or "out of memory" in str(exc).lower():
                raise ResourceExhausted(f"out of memory on {self.spec.name!r}: {exc}") from None
            raise ExecutionError(f"diffusion failed: {exc}", retryable=True) from None
        except (ValueError, TypeError) as exc:
            raise ExecutionError(f"diffusion failed: {exc}") from None

    def close_cache(self) -> None:
        if self.device == "cuda":
            self._torch.cuda.empty_cache()

    def _common(self, jobs: list[Job], per_job: list[int]) -> dict[str, Any]:
        """Prompts, negative prompts and generators, one entry per output (a job's generator repeated)."""
        gens = [self._torch.Generator(device="cpu").manual_seed(j.seed) for j in jobs]
        negative = [j.params.negative_prompt or "" for j in jobs]
        p = jobs[0].params
        return {
            "prompt": [j.params.prompt for j, n in zip(jobs, per_job, strict=True) for _ in range(n)],
            "negative_prompt": None if not any(negative) else [x for x, n in zip(negative, per_job, strict=True)
                                                                for _ in range(n)],
            "generator": [g for g, n in zip(gens, per_job, strict=True) for _ in range(n)],
            "num_inference_steps": p.num_inference_steps,
            "guidance_scale": p.guidance_scale,
        }  # fmt: skip

    def _images(self, jobs: list[Job]) -> list[dict[str, Any]]:
        counts = [getattr(j.params, "num_images", 1) for j in jobs]
        kwargs = self._common(jobs, counts)
        p = jobs[0].params
        if jobs[0].task_type == "image-to-image":
            inputs = [_image(j.params.image, p.width, p.height) for j in jobs]  # type: ignore[attr-defined]
            kwargs["image"] = [img for img, n in zip(inputs, counts, strict=True) for _ in range(n)]
            out = self._variant("image-to-image")(**kwargs, strength=p.strength, output_type="pil")  # type: ignore[attr-defined]
        else:
            out = self.pipe(**kwargs, width=p.width, height=p.height, output_type="pil")
        pngs, at = [], 0
        for n in counts:
            pngs.append([_png(img) for img in out.images[at : at + n]])
            at += n
        return [{"images": imgs, "width": p.width, "height": p.height} for imgs in pngs]

    def _videos(self, jobs: list[Job]) -> list[dict[str, Any]]:
        p = jobs[0].params
        frames_n = p.num_frames  # type: ignore[attr-defined]
        kwargs = self._common(jobs, [1] * len(jobs))
        if jobs[0].task_type == "image-to-video":
            image = _image(p.image, p.width, p.height)  # type: ignore[attr-defined]
            kwargs["generator"] = kwargs["generator"][0]
            out = self._variant("image-to-video")(**kwargs, video=[image] * frames_n, strength=p.strength,  # type: ignore[attr-defined]
                                                  output_type="np")  # fmt: skip
        else:
            out = self.pipe(**kwargs, num_frames=frames_n, width=p.width, height=p.height, output_type="np")
        fps = self.config.fps
        return [
            {"videos": [mp4.encode_mp4(f, fps)], "posters": [mp4.poster_png(f)], "width": p.width,
             "height": p.height, "num_frames": len(f), "fps": fps}
            for f in out.frames
        ]  # fmt: skip


def _image(value: str, width: int, height: int) -> Any:
    """A data URI (the runner resolved the asset id or URL) to an RGB image of the asked size."""
    from PIL import Image, ImageOps

    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        with Image.open(io.BytesIO(base64.b64decode(payload))) as img:
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except Exception:
        raise InvalidRequest("params.image: not a decodable image", details={"field": "params.image"}) from None
    return rgb.resize((width, height))


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
