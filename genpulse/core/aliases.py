"""Model aliases: the names OpenAI-style clients pass as ``model`` (config ``models``, ``GENPULSE_MODELS`` as JSON).

An alias names a provider, the task type its generations run as, and default params merged under the caller's.
``ModelAlias`` is the config shape only; ``genpulse.api.openai.catalog`` resolves aliases against the registry.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(description="Provider name (see `GET /v1/providers`).", examples=["kling"])
    task_type: str = Field(
        description="What a generation runs as: `text-to-image` (images; edits use `image-to-image`) or "
        "`text-to-video` (videos; with an input reference, `image-to-video`).",
        examples=["text-to-image"],
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Default params, under what the request sets (e.g. a vendor model name)."
    )
    description: str | None = Field(None, max_length=500)
