"""Model aliases: the names OpenAI-style clients pass as ``model`` (config ``models``, ``GENPULSE_MODELS`` as JSON).

An alias names a provider (or provider instance), or a list of ``routes`` over several, the task type its
generations run as, and default params merged under the caller's. ``ModelAlias`` is the config shape only;
``genpulse.api.openai.catalog`` resolves aliases against the registry and picks a route per request.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(description="A provider or provider instance (`providers.<name>.kind`).")
    priority: int = Field(0, description="Lower first: a route is used only when no lower-priority one is usable.")
    weight: float = Field(1, gt=0, description="Share of requests among usable routes of the same priority.")


class ModelAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(None, description="Provider name (see `GET /v1/providers`); or set `routes`.")
    routes: list[Route] = Field(
        default_factory=list,
        description="Several providers or instances, picked per request by priority, then weight, skipping those "
        "disabled, not configured or out of the key's scopes.",
    )
    task_type: str = Field(
        description="What a generation runs as: `text-to-image` (images; edits use `image-to-image`) or "
        "`text-to-video` (videos; with an input reference, `image-to-video`).",
        examples=["text-to-image"],
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Default params, under what the request sets (e.g. a vendor model name)."
    )
    description: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _one_target(self) -> ModelAlias:
        if (self.provider is None) == (not self.routes):
            raise ValueError("set either provider or routes")
        return self

    def targets(self) -> list[Route]:
        return self.routes or [Route(provider=str(self.provider))]
