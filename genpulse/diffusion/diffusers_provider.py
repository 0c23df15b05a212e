"""Provider ``diffusers``: local diffusion on the app's own DiffusionDeployment replicas.

Task types: ``text-to-image`` and ``image-to-image`` on image models, ``text-to-video`` and ``image-to-video``
on video models (``genpulse.diffusion.models``). ``params.model`` picks a model by name (default: the
configured default, or the only model that can run the task type); an unknown model, or one that cannot run
the task type, is a 422 listing the valid names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from genpulse.diffusion.models import ModelCatalog
from genpulse.media.inputs import ImageRef
from genpulse.providers.provider import Provider


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=2000, description="What to draw.")
    negative_prompt: str | None = Field(None, max_length=2000, description="What to avoid.")
    model: str | None = Field(None, max_length=200, description="Model name; see `GET /v1/providers`.")
    width: int = Field(512, multiple_of=8, description="Image width in pixels, a multiple of 8.")
    height: int = Field(512, multiple_of=8, description="Image height in pixels, a multiple of 8.")
    num_inference_steps: int = Field(20, ge=1, description="Denoising steps.")
    guidance_scale: float = Field(7.5, ge=0, le=30, description="Classifier-free guidance strength.")
    seed: int | None = Field(
        None, ge=0, lt=2**63, description="Same seed, same output. Drawn at random (and returned) when unset."
    )


class TextToImageParams(_Common):
    num_images: int = Field(1, ge=1, le=8, description="Images to generate.")


class ImageToImageParams(TextToImageParams):
    image: ImageRef = Field(description="The input image (resized to width x height).")
    strength: float = Field(
        0.75, gt=0, le=1, description="How far to move from the input: near 0 keeps it, 1 ignores it."
    )


class TextToVideoParams(_Common):
    num_frames: int = Field(8, ge=1, description="Frames in the video.")


class ImageToVideoParams(TextToVideoParams):
    image: ImageRef = Field(description="The image the video starts from (resized to width x height).")
    strength: float = Field(0.8, gt=0, le=1, description="How far the frames may move from the image.")


BASES: dict[str, type[_Common]] = {
    "text-to-image": TextToImageParams,
    "image-to-image": ImageToImageParams,
    "text-to-video": TextToVideoParams,
    "image-to-video": ImageToVideoParams,
}


class DiffusersProvider(Provider):
    name = "diffusers"
    description = "Local diffusion models on GenPulse's own (GPU or CPU) replicas."
    kind = "local"

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.catalog = ModelCatalog(args.diffusion)

    def param_models(self) -> dict[str, type[BaseModel]]:
        cfg = self.args.diffusion
        size: dict[str, Any] = {"ge": cfg.min_size, "le": cfg.max_size, "multiple_of": 8}
        fields: dict[str, Any] = {
            "width": (int, Field(cfg.default_size, **size, description="Image width in pixels, a multiple of 8.")),
            "height": (int, Field(cfg.default_size, **size, description="Image height in pixels, a multiple of 8.")),
            "num_inference_steps": (
                int,
                Field(cfg.default_steps, ge=1, le=cfg.max_steps, description="Denoising steps."),
            ),
        }
        frames = (int, Field(cfg.default_frames, ge=1, le=cfg.max_frames, description="Frames in the video."))
        models: dict[str, type[BaseModel]] = {}
        for task_type in self.catalog.task_types():
            base = BASES[task_type]
            extra = {"num_frames": frames} if "num_frames" in base.model_fields else {}
            name = "Diffusers" + "".join(part.title() for part in task_type.split("-")) + "Params"
            models[task_type] = create_model(
                name, __base__=base, __doc__=f"Parameters of a local {task_type} task.", **fields, **extra
            )
        return models

    def validate(self, task_type: str, params: dict[str, Any]) -> BaseModel:
        model = super().validate(task_type, params)
        self.catalog.get(getattr(model, "model", None), task_type)  # 422 listing the valid models
        return model

    def limits(self) -> dict[str, Any]:
        cfg = self.args.diffusion
        return {
            "model": cfg.model,
            "models": self.catalog.describe(),
            "min_size": cfg.min_size,
            "max_size": cfg.max_size,
            "max_steps": cfg.max_steps,
            "max_images": 8,
            "max_frames": cfg.max_frames,
        }
