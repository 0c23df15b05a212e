"""Provider ``volcengine``: Jimeng on the Visual API and Seedream / Seedance on Ark; the ``model`` picks the API.

- ``model`` starting with ``jimeng_`` (a Visual ``req_key``; the default) → Visual API, AK/SK-signed
  (``genpulse.providers.vendors.volcengine_visual``): ``jimeng_t2i_v40`` images, ``jimeng_ti2v_v30_pro`` video.
- ``doubao-seedream-*`` / ``doubao-seedance-*`` or an Ark endpoint id ``ep-*`` → Ark with a bearer key
  (``genpulse.providers.vendors.volcengine_ark``): synchronous images, video tasks.

Each API needs its own credentials: ``access_key`` + ``secret_key`` (Visual), ``api_key`` (Ark). The provider is
configured when either is; a request for the other API is refused at submit (``provider_not_configured``).
Base URLs: ``endpoints.visual`` (or ``base_url``) and ``endpoints.ark``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag, model_validator

from genpulse.core.config import AppArgs
from genpulse.core.errors import InvalidRequest, ProviderError, ProviderNotConfigured, ProviderServerError
from genpulse.media.inputs import ImageRef, split_image
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob
from genpulse.providers.vendors import volcengine_ark as volc_ark
from genpulse.providers.vendors import volcengine_visual as volc_visual

_STRICT = ConfigDict(extra="forbid")
_SEEDREAM = r"^(doubao-seedream-[0-9a-z-]+|ep-[0-9A-Za-z-]+)$"
_SEEDANCE = r"^(doubao-seedance-[0-9a-z-]+|ep-[0-9A-Za-z-]+)$"
AspectRatio = Literal["16:9", "4:3", "1:1", "3:4", "9:16", "21:9"]


class VisualTextToImage(BaseModel):
    """Jimeng 4.0 images on the Visual API (text-to-image, or editing / combining up to 10 reference images)."""

    model_config = _STRICT
    model: Literal["jimeng_t2i_v40"] = Field("jimeng_t2i_v40", description="Visual API req_key.")
    prompt: str = Field(min_length=1, max_length=800, description="What to draw.")
    images: list[ImageRef] = Field(default_factory=list, max_length=10, description="Reference images (0-10).")
    width: int | None = Field(None, ge=512, le=4096, description="Output width; give both width and height or neither.")
    height: int | None = Field(None, ge=512, le=4096, description="Output height.")
    size: int | None = Field(None, ge=1024 * 1024, le=4096 * 4096, description="Output area in pixels (default 2048²).")
    scale: float = Field(0.5, ge=0, le=1, description="Weight of the text against the reference images.")
    force_single: bool = Field(False, description="Always return exactly one image.")
    seed: int = Field(-1, ge=-1, le=2**31 - 1, description="-1 for a random seed.")

    @model_validator(mode="after")
    def _dims(self) -> VisualTextToImage:
        if (self.width is None) != (self.height is None):
            raise ValueError("give both width and height, or neither")
        if self.width and self.height and not 1024 * 1024 <= self.width * self.height <= 4096 * 4096:
            raise ValueError("width * height must lie within [1024², 4096²]")
        return self


class VisualTextToVideo(BaseModel):
    """Jimeng video 3.0 Pro on the Visual API, from text."""

    model_config = _STRICT
    model: Literal["jimeng_ti2v_v30_pro"] = Field("jimeng_ti2v_v30_pro", description="Visual API req_key.")
    prompt: str = Field(min_length=1, max_length=800, description="What happens in the video.")
    frames: Literal[121, 241] = Field(121, description="121 frames = 5 s, 241 = 10 s (24 fps).")
    aspect_ratio: AspectRatio = Field("16:9", description="Width:height of the video.")
    seed: int = Field(-1, ge=-1, le=2**31 - 1, description="-1 for a random seed.")


class VisualImageToVideo(BaseModel):
    """Jimeng video 3.0 Pro on the Visual API, from a first frame."""

    model_config = _STRICT
    model: Literal["jimeng_ti2v_v30_pro"] = Field("jimeng_ti2v_v30_pro", description="Visual API req_key.")
    image: ImageRef = Field(description="First frame: https URL, data URI or base64.")
    prompt: str | None = Field(None, max_length=800, description="What happens in the video.")
    frames: Literal[121, 241] = Field(121, description="121 frames = 5 s, 241 = 10 s (24 fps).")
    seed: int = Field(-1, ge=-1, le=2**31 - 1, description="-1 for a random seed.")


class ArkTextToImage(BaseModel):
    """Seedream images on Ark (synchronous)."""

    model_config = _STRICT
    model: str = Field(
        pattern=_SEEDREAM, description="Seedream model or ep- id.", examples=["doubao-seedream-4-0-250828"]
    )
    prompt: str = Field(min_length=1, max_length=4000, description="What to draw.")
    images: list[ImageRef] = Field(default_factory=list, max_length=14, description="Reference images (0-14).")
    size: str = Field("2K", pattern=r"^([124]K|\d{3,5}x\d{3,5})$", description="`1K`/`2K`/`4K` or `WIDTHxHEIGHT`.")
    seed: int | None = Field(None, ge=-1, le=2**31 - 1, description="Fixed seed; random when unset.")
    guidance_scale: float | None = Field(None, ge=1, le=10, description="Prompt adherence (Seedream 3.0 models).")
    sequential_image_generation: Literal["auto", "disabled"] = Field("disabled", description="Allow an image set.")
    max_images: int | None = Field(None, ge=1, le=15, description="Most images in a set (with `auto`).")
    watermark: bool = Field(False, description="Add the vendor's 'AI generated' watermark.")


class ArkTextToVideo(BaseModel):
    """Seedance video on Ark, from text."""

    model_config = _STRICT
    model: str = Field(
        pattern=_SEEDANCE, description="Seedance model or ep- id.", examples=["doubao-seedance-1-0-pro-250528"]
    )
    prompt: str = Field(min_length=1, max_length=2000, description="What happens in the video.")
    resolution: Literal["480p", "720p", "1080p"] | None = Field(None, description="Output resolution.")
    ratio: AspectRatio | Literal["adaptive"] | None = Field(None, description="Width:height of the video.")
    duration: int | None = Field(None, ge=2, le=12, description="Length in seconds.")
    seed: int | None = Field(None, ge=-1, le=2**32 - 1, description="Fixed seed; random when unset.")
    camera_fixed: bool | None = Field(None, description="Keep the camera still.")
    watermark: bool = Field(False, description="Add the vendor's watermark.")


class ArkImageToVideo(ArkTextToVideo):
    """Seedance video on Ark, from a first frame (and optionally a last frame)."""

    image: ImageRef = Field(description="First frame: https URL, data URI or base64.")
    last_frame: ImageRef | None = Field(None, description="Last frame (models that support it).")
    prompt: str | None = Field(None, max_length=2000, description="What happens in the video.")  # type: ignore[assignment]


def api_of(value: Any) -> str:
    """``visual`` unless ``model`` names an Ark model; Ark models are required, so the branches never overlap."""
    model = value.get("model") if isinstance(value, dict) else getattr(value, "model", None)
    return "visual" if model is None or str(model).startswith("jimeng_") else "ark"


def _either(visual: type[BaseModel], ark: type[BaseModel]) -> Any:
    return Annotated[Annotated[visual, Tag("visual")] | Annotated[ark, Tag("ark")], Discriminator(api_of)]


class VolcTextToImage(RootModel[_either(VisualTextToImage, ArkTextToImage)]):  # type: ignore[misc]
    """Jimeng (`model: jimeng_*`, Visual API) or Seedream (`model: doubao-seedream-*`, Ark)."""


class VolcTextToVideo(RootModel[_either(VisualTextToVideo, ArkTextToVideo)]):  # type: ignore[misc]
    """Jimeng video (`model: jimeng_*`, Visual API) or Seedance (`model: doubao-seedance-*`, Ark)."""


class VolcImageToVideo(RootModel[_either(VisualImageToVideo, ArkImageToVideo)]):  # type: ignore[misc]
    """Jimeng video (`model: jimeng_*`, Visual API) or Seedance (`model: doubao-seedance-*`, Ark)."""


class VolcengineProvider(CloudProvider):
    name = "volcengine"
    description = "VolcEngine: Jimeng on the Visual API (AK/SK) and Seedream / Seedance on Ark (API key)."
    default_base_url = volc_visual.DEFAULT_URL
    required_credentials = ()

    def __init__(self, args: AppArgs, clock: Callable[[], float] = time.time) -> None:
        super().__init__(args)
        self._clock = clock

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {"text-to-image": VolcTextToImage, "text-to-video": VolcTextToVideo, "image-to-video": VolcImageToVideo}

    def ready(self, api: str) -> bool:
        if api == "ark":
            return self.config.api_key is not None
        return self.config.access_key is not None and self.config.secret_key is not None

    def is_configured(self) -> bool:
        return self.ready("visual") or self.ready("ark")

    def validate(self, task_type: str, params: dict[str, Any]) -> BaseModel:
        api = api_of(params)
        try:
            model = super().validate(task_type, params)
        except InvalidRequest as exc:  # drop the union tag from field paths: params.ark.prompt -> params.prompt
            if isinstance(exc.details, list):
                for item in exc.details:
                    item["field"] = item["field"].replace(f"params.{api}.", "params.", 1)
            exc.message = exc.message.replace(f"params: {api}.", "params: ").replace(f"; {api}.", "; ")
            exc.args = (exc.message,)
            raise
        if not self.ready(api):
            keys = "API_KEY" if api == "ark" else "ACCESS_KEY and SECRET_KEY"
            raise ProviderNotConfigured(
                f"volcengine: the {api} API is not configured (GENPULSE_PROVIDERS__VOLCENGINE__{keys})",
                details={"field": "params.model", "api": api},
            )
        return model

    @property
    def visual_url(self) -> str:
        return (self.config.endpoints.get("visual") or self.config.base_url or volc_visual.DEFAULT_URL).rstrip("/")

    @property
    def ark_url(self) -> str:
        return (self.config.endpoints.get("ark") or volc_ark.DEFAULT_URL).rstrip("/")

    async def _visual(self, client: httpx.AsyncClient, action: str, body: dict[str, Any]) -> dict[str, Any]:
        ak, sk = self.secret("access_key"), self.secret("secret_key")
        return await volc_visual.call(
            client, self.visual_url, ak, sk, action, body, self._clock(), self.config.timeout_s
        )

    async def _ark(self, client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
        key = self.secret("api_key")
        return await volc_ark.call(client, self.ark_url, key, method, path, self.config.timeout_s, body)

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        p = params.root if isinstance(params, RootModel) else params
        if isinstance(p, VisualTextToImage | VisualTextToVideo | VisualImageToVideo):
            reply = await self._visual(client, "CVSync2AsyncSubmitTask", _visual_body(p))
            return volc_visual.submitted(p.model, reply)
        if isinstance(p, ArkTextToImage):
            return volc_ark.image_job(await self._ark(client, "POST", "/images/generations", _seedream_body(p)))
        assert isinstance(p, ArkTextToVideo)
        return volc_ark.created(await self._ark(client, "POST", "/contents/generations/tasks", _seedance_body(p)))

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        req_key, sep, task_id = job_id.partition(":")
        if sep and req_key.startswith("jimeng_"):
            body = {"req_key": req_key, "task_id": task_id, "req_json": json.dumps({"return_url": True})}
            try:
                reply = await self._visual(client, "CVSync2AsyncGetResult", body)
            except ProviderError as exc:
                if volc_visual.ends_job(exc):
                    return volc_visual.failed_job(job_id, exc)
                raise
            return volc_visual.job_from_poll(job_id, reply)
        if job_id.startswith("ark-img-"):  # a synchronous result lost before it was stored: submit again
            error = ProviderServerError(f"volcengine: image job {job_id} was synchronous; its result is gone")
            return VendorJob(job_id, JobState.failed, error=error)
        return volc_ark.video_job(job_id, await self._ark(client, "GET", f"/contents/generations/tasks/{job_id}"))

    async def cancel(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> bool:
        if task_type == "text-to-image" or job_id.startswith(("jimeng_", "ark-img-")):
            return False
        await self._ark(client, "DELETE", f"/contents/generations/tasks/{job_id}")
        return True

    def poll_delay(self, task_type: str, elapsed_s: float, polls: int) -> float:
        if task_type == "text-to-image" and self.config.poll_interval_s is None:
            return 1.0 if elapsed_s < 30 else 3.0
        return super().poll_delay(task_type, elapsed_s, polls)


def _visual_body(p: VisualTextToImage | VisualTextToVideo | VisualImageToVideo) -> dict[str, Any]:
    body = p.model_dump(exclude_none=True, exclude={"model", "images", "image"})
    body = {"req_key": p.model, **body}
    images = [split_image(i) for i in getattr(p, "images", [])]
    if isinstance(p, VisualImageToVideo):
        images = [split_image(p.image)]
    if urls := [i.url for i in images if i.url]:
        body["image_urls"] = urls
    if blobs := [i.b64 for i in images if i.b64]:
        body["binary_data_base64"] = blobs
    return body


def _seedream_body(p: ArkTextToImage) -> dict[str, Any]:
    body = p.model_dump(exclude_none=True, exclude={"images", "max_images"})
    body |= {"response_format": "url", "stream": False}
    if p.images:
        refs = [split_image(i).url_or_data_uri for i in p.images]
        body["image"] = refs[0] if len(refs) == 1 else refs
    if p.max_images is not None:
        body["sequential_image_generation_options"] = {"max_images": p.max_images}
    return body


def _seedance_body(p: ArkTextToVideo) -> dict[str, Any]:
    controls = p.model_dump(exclude_none=True, exclude={"model", "prompt", "image", "last_frame"})
    content: list[dict[str, Any]] = [{"type": "text", "text": p.prompt}] if p.prompt else []
    if isinstance(p, ArkImageToVideo):
        frames = [("first_frame", p.image), ("last_frame", p.last_frame)]
        content += [
            {"type": "image_url", "image_url": {"url": split_image(v).url_or_data_uri}, "role": role}
            for role, v in frames
            if v
        ]
    return {"model": p.model, "content": content, **controls}
