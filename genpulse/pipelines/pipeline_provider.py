"""Provider ``pipeline``: multi-step media tasks built from other providers' tasks.

- ``image-to-video``: an image (asset id, https URL or data URI) → fitted first frame → the chosen video
  provider's ``image-to-video`` task → the video and a poster frame.
- ``text-to-image-to-video``: the chosen image provider's ``text-to-image`` task, then the above on its image.

``validate`` also checks the named providers and their params (with the frame still to come), so a typo is a
422 at submit time, not a failed task minutes later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genpulse.core.errors import InvalidRequest, ProviderNotConfigured
from genpulse.media.inputs import ImageRef
from genpulse.providers.provider import Provider

PLACEHOLDER_ASSET = "ast_" + "0" * 24


class ImageToVideoParams(BaseModel):
    """Animate an image with a video provider; returns the video and the first frame as a poster."""

    model_config = ConfigDict(extra="forbid")
    image: ImageRef = Field(description="First frame: an asset id, an https URL or a data:image URI.")
    prompt: str | None = Field(None, max_length=2500, description="What happens in the video.")
    video_provider: str = Field("kling", description="Provider that runs the image-to-video step.")
    video_params: dict[str, Any] = Field(
        default_factory=dict, description="More params of the video provider's image-to-video task."
    )


class TextToImageToVideoParams(BaseModel):
    """Draw an image from a prompt, then animate it."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=2000, description="What to draw and animate.")
    video_prompt: str | None = Field(None, max_length=2500, description="Motion prompt; `prompt` when unset.")
    image_provider: str = Field("diffusers", description="Provider that runs the text-to-image step.")
    image_params: dict[str, Any] = Field(default_factory=dict, description="More params of the image step.")
    video_provider: str = Field("kling", description="Provider that runs the image-to-video step.")
    video_params: dict[str, Any] = Field(default_factory=dict, description="More params of the video step.")


class PipelineProvider(Provider):
    name = "pipeline"
    description = "Multi-step media pipelines (image-to-video, text-to-image-to-video) over other providers."
    kind = "pipeline"
    _lookup: Callable[[str], Provider] | None = None

    def bind_registry(self, lookup: Callable[[str], Provider]) -> None:
        """How to find the step providers (the registry that made this provider passes its ``get``)."""
        self._lookup = lookup

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {"image-to-video": ImageToVideoParams, "text-to-image-to-video": TextToImageToVideoParams}

    def validate(self, task_type: str, params: dict[str, Any]) -> BaseModel:
        model = super().validate(task_type, params)
        if isinstance(model, TextToImageToVideoParams):
            self._check_step("image", model.image_provider, "text-to-image", step_params(model)[0])
        if isinstance(model, ImageToVideoParams | TextToImageToVideoParams):
            video = step_params(model, PLACEHOLDER_ASSET)[1]
            self._check_step("video", model.video_provider, "image-to-video", video)
        return model

    def _check_step(self, step: str, provider_name: str, task_type: str, params: dict[str, Any]) -> None:
        field = f"{step}_provider"
        if provider_name == self.name:
            raise InvalidRequest(f"{field}: a pipeline step cannot be a pipeline", details={"field": field})
        try:
            if self._lookup is None:
                raise RuntimeError("PipelineProvider used before bind_registry")
            provider = self._lookup(provider_name)
            if not provider.is_configured():
                raise ProviderNotConfigured(f"provider {provider_name!r} is not configured", details={"field": field})
            provider.validate(task_type, params)
        except ProviderNotConfigured as exc:
            raise ProviderNotConfigured(f"{step} step: {exc.message}", details=exc.details) from None
        except InvalidRequest as exc:
            raise InvalidRequest(f"{step} step: {exc.message}", details=exc.details) from None


def step_params(model: BaseModel, frame_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(text-to-image params, image-to-video params) of a pipeline's steps; the frame goes in as an asset id."""
    if isinstance(model, TextToImageToVideoParams):
        image = {**model.image_params, "prompt": model.prompt}
        video = {**model.video_params, "prompt": model.video_prompt or model.prompt}
    else:
        assert isinstance(model, ImageToVideoParams)
        image = {}
        video = {**model.video_params, **({"prompt": model.prompt} if model.prompt else {})}
    if frame_id is not None:
        video["image"] = frame_id
    return image, video
