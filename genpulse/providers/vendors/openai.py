"""Provider ``openai``: OpenAI image generation (``POST /images/generations``), synchronous.

Auth: ``Authorization: Bearer <api_key>``. The call returns the images at once, so ``submit`` returns a finished
``VendorJob`` with a synthetic id (``oai-img-…``) and its outputs: ``data[].url`` (dall-e, valid 60 min) and
``data[].b64_json`` (gpt-image models, and dall-e with ``response_format=b64_json``) are both accepted. A
synchronous job cannot be polled again: its outputs lived only in that reply, so ``poll`` raises a permanent
error rather than pay twice. Errors ``{"error": {"message", "type", "param", "code"}}`` are mapped by ``code``
(``insufficient_quota`` is a 429 that means no credit, not a rate limit). Config: ``api_key``, ``base_url``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genpulse.core.errors import (
    ContentModerated,
    GenPulseError,
    InsufficientBalance,
    MalformedReply,
    ProviderAuthError,
    ProviderError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
)
from genpulse.providers.cloud import CloudProvider, JobState, VendorJob, VendorOutput
from genpulse.providers.http import send_json

_SIZES = {
    "gpt-image-1": {"auto", "1024x1024", "1536x1024", "1024x1536"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
_QUALITIES = {"gpt-image-1": {"auto", "high", "medium", "low"}, "dall-e-3": {"standard", "hd"}, "dall-e-2": set()}
_PROMPT_MAX = {"gpt-image-1": 32000, "dall-e-3": 4000, "dall-e-2": 1000}


class OpenAITextToImage(BaseModel):
    """OpenAI image generation. Which options apply depends on the model (checked here, before any call)."""

    model_config = ConfigDict(extra="forbid")
    model: Literal["gpt-image-1", "dall-e-3", "dall-e-2"] = Field("gpt-image-1", description="Image model.")
    prompt: str = Field(
        min_length=1, max_length=32000, description="What to draw (gpt-image-1 ≤32000, dall-e-3 ≤4000, dall-e-2 ≤1000)."
    )
    n: int = Field(1, ge=1, le=10, description="Images to generate (dall-e-3: 1 only).")
    size: Literal["auto", "1024x1024", "1536x1024", "1024x1536", "1792x1024", "1024x1792", "256x256", "512x512"] = (
        Field(
            "1024x1024",
            description="gpt-image-1: auto, 1024x1024, 1536x1024, 1024x1536; dall-e-3: 1024x1024, 1792x1024, "
            "1024x1792; dall-e-2: 256x256, 512x512, 1024x1024.",
        )
    )
    quality: Literal["auto", "high", "medium", "low", "standard", "hd"] | None = Field(
        None, description="gpt-image-1: auto/high/medium/low; dall-e-3: standard/hd."
    )
    response_format: Literal["url", "b64_json"] | None = Field(
        None, description="dall-e only (gpt-image-1 always returns base64). Either way the image becomes our Asset."
    )
    style: Literal["vivid", "natural"] | None = Field(None, description="dall-e-3 only.")
    background: Literal["auto", "transparent", "opaque"] | None = Field(None, description="gpt-image-1 only.")
    output_format: Literal["png", "jpeg", "webp"] | None = Field(None, description="gpt-image-1 only.")
    output_compression: int | None = Field(None, ge=0, le=100, description="gpt-image-1 jpeg/webp only.")
    moderation: Literal["auto", "low"] | None = Field(None, description="gpt-image-1 moderation level.")

    @model_validator(mode="after")
    def _fits_model(self) -> OpenAITextToImage:
        gpt = self.model == "gpt-image-1"
        if len(self.prompt) > _PROMPT_MAX[self.model]:
            raise ValueError(f"prompt: at most {_PROMPT_MAX[self.model]} characters for {self.model}")
        if self.size not in _SIZES[self.model]:
            raise ValueError(f"size: {self.model} supports {', '.join(sorted(_SIZES[self.model]))}")
        if self.quality is not None and self.quality not in _QUALITIES[self.model]:
            raise ValueError(f"quality: {self.model} supports {', '.join(sorted(_QUALITIES[self.model])) or 'none'}")
        if self.model == "dall-e-3" and self.n != 1:
            raise ValueError("n: dall-e-3 generates one image per request")
        for name, allowed in (("response_format", not gpt), ("style", self.model == "dall-e-3")):
            if getattr(self, name) is not None and not allowed:
                raise ValueError(f"{name}: not supported by {self.model}")
        for name in ("background", "output_format", "output_compression", "moderation"):
            if getattr(self, name) is not None and not gpt:
                raise ValueError(f"{name}: gpt-image-1 only")
        return self


_ERRORS: dict[str, type[GenPulseError]] = {
    "invalid_api_key": ProviderAuthError,
    "invalid_organization": ProviderAuthError,
    "insufficient_quota": InsufficientBalance,
    "billing_hard_limit_reached": InsufficientBalance,
    "rate_limit_exceeded": ProviderRateLimited,
    "content_policy_violation": ContentModerated,
    "moderation_blocked": ContentModerated,
    "server_error": ProviderServerError,
}


def classify(status: int, body: Any) -> GenPulseError | None:
    err = body.get("error") if isinstance(body, dict) else None
    if status < 400 or not isinstance(err, dict):
        return None
    code = str(err.get("code") or err.get("type") or status)
    message = f"openai: HTTP {status} {code}: {err.get('message', '')}"
    cls = _ERRORS.get(code)
    if cls is None and status == 400:
        cls = ContentModerated if "safety system" in str(err.get("message", "")) else ProviderInvalidInput
    if cls is None:
        return None  # the generic HTTP-status mapping (401 auth, 429 rate, 5xx server, ...)
    return cls(message, provider_code=code)


class OpenAIProvider(CloudProvider):
    name = "openai"
    description = "OpenAI image generation (gpt-image-1, dall-e-3, dall-e-2); synchronous."
    default_base_url = "https://api.openai.com/v1"

    def param_models(self) -> dict[str, type[BaseModel]]:
        return {"text-to-image": OpenAITextToImage}

    async def submit(self, client: httpx.AsyncClient, task_type: str, params: BaseModel) -> VendorJob:
        reply = await send_json(
            client,
            self.name,
            "POST",
            f"{self.base_url}/images/generations",
            classify=classify,
            headers={"Authorization": f"Bearer {self.secret('api_key')}"},
            json=params.model_dump(exclude_none=True),
            timeout=self.config.timeout_s,
        )
        fmt = getattr(params, "output_format", None) or "png"
        return VendorJob(f"oai-img-{uuid.uuid4().hex[:16]}", JobState.succeeded, 100.0, _outputs(reply, fmt))

    async def poll(self, client: httpx.AsyncClient, task_type: str, job_id: str) -> VendorJob:
        raise ProviderError(
            f"openai: {job_id} was a synchronous call whose images are gone; not re-run, to avoid paying twice",
            retryable=False,
        )


def _outputs(reply: Any, fmt: str) -> list[VendorOutput]:
    items = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(items, list) or not items:
        raise MalformedReply(f"openai: reply has no `data` list: {str(reply)[:200]}")
    outputs = []
    for item in items:
        item = item if isinstance(item, dict) else {}
        extra = {"revised_prompt": item["revised_prompt"]} if item.get("revised_prompt") else {}
        if isinstance(item.get("b64_json"), str) and item["b64_json"]:
            try:
                data = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise MalformedReply("openai: b64_json is not valid base64") from None
            outputs.append(VendorOutput("image", data=data, content_type=f"image/{fmt}", extra=extra))
        elif isinstance(item.get("url"), str) and item["url"]:
            outputs.append(VendorOutput("image", url=item["url"], extra=extra))
        else:
            raise MalformedReply("openai: an image has neither url nor b64_json")
    return outputs
