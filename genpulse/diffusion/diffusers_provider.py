"""Provider ``diffusers``: local diffusion on the app's own DiffusionDeployment replicas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from genpulse.providers.provider import Provider


class TextToImageParams(BaseModel):
    """Shape of the text-to-image params; bounds are tightened from config in ``DiffusersProvider``."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=2000, description="What to draw.")
    negative_prompt: str | None = Field(None, max_length=2000, description="What to avoid.")
    width: int = Field(512, multiple_of=8, description="Image width in pixels, a multiple of 8.")
    height: int = Field(512, multiple_of=8, description="Image height in pixels, a multiple of 8.")
    num_inference_steps: int = Field(20, ge=1, description="Denoising steps.")
    guidance_scale: float = Field(7.5, ge=0, le=30, description="Classifier-free guidance strength.")
    seed: int | None = Field(
        None, ge=0, lt=2**63, description="Same seed, same image. Drawn at random (and returned) when unset."
    )
    num_images: int = Field(1, ge=1, le=8, description="Images to generate.")


class DiffusersProvider(Provider):
    name = "diffusers"
    description = "Local diffusion models on GenPulse's own (GPU or CPU) replicas."
    kind = "local"

    def param_models(self) -> dict[str, type[BaseModel]]:
        cfg = self.args.diffusion
        size: dict[str, Any] = {"ge": cfg.min_size, "le": cfg.max_size, "multiple_of": 8}
        model = create_model(
            "DiffusersTextToImageParams",
            __base__=TextToImageParams,
            __doc__="Parameters of a local text-to-image task.",
            width=(
                int,
                Field(cfg.default_size, **size, description="Image width in pixels, a multiple of 8."),
            ),
            height=(
                int,
                Field(cfg.default_size, **size, description="Image height in pixels, a multiple of 8."),
            ),
            num_inference_steps=(
                int,
                Field(cfg.default_steps, ge=1, le=cfg.max_steps, description="Denoising steps."),
            ),
        )
        return {"text-to-image": model}

    def limits(self) -> dict[str, Any]:
        cfg = self.args.diffusion
        return {
            "model": cfg.model,
            "min_size": cfg.min_size,
            "max_size": cfg.max_size,
            "max_steps": cfg.max_steps,
            "max_images": 8,
        }
