"""A task's price: the hold at submit, the charge at the end. Pure functions, used by the service and the stores.

- ``requested_units``: what a request asks for: ``images`` (``n``/``num_images``/... for image task types, else
  1) or ``video_seconds`` (``duration``, else ``DEFAULT_VIDEO_SECONDS``) for video task types.
- ``cost``: ``per_task + per_image * images + per_video_second * video_seconds``, rounded up to a whole credit.
- ``delivered_units``: what a succeeded task delivered: the runner's ``result.usage`` when it reports one, else
  the image assets it returned (a video's poster is not an image sold) or, for video, the seconds the vendor
  reported (``result.video_seconds``) or the seconds asked for, per video returned.
- ``close``: the settlement or refund of a task that is ending, as the store writes it with the transition:
  success settles at the delivered units (never more than the hold: the hold is the price of what was asked);
  failure, cancel, deadline and an unknown submit outcome refund the whole hold.
"""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

IMAGE_COUNT_PARAMS = ("n", "num_images", "image_count", "batch_size", "count")
DEFAULT_VIDEO_SECONDS = 10.0


class Price(BaseModel):
    """One provider and task type's prices, in credits per unit."""

    model_config = ConfigDict(extra="forbid")
    per_task: float = Field(0, ge=0, allow_inf_nan=False)
    per_image: float = Field(0, ge=0, allow_inf_nan=False)
    per_video_second: float = Field(0, ge=0, allow_inf_nan=False)


class BillingState(StrEnum):
    held = "held"
    settled = "settled"
    refunded = "refunded"


class Billing(BaseModel):
    """A priced task's money: the hold taken at submit and how it ended (settled or refunded, exactly once)."""

    held: int = Field(description="Credits held at submit: the price of the units asked for.")
    state: BillingState = BillingState.held
    charged: int | None = Field(None, description="Credits settled, once the task succeeded.")
    price: Price = Field(description="The prices in force at submit; the settlement uses them.")
    units: dict[str, float] = Field(
        default_factory=dict, description="Units held for (`images`, `video_seconds`); after success, units charged."
    )


def is_video(task_type: str) -> bool:
    return task_type.endswith("-to-video") or task_type == "video"


def requested_units(task_type: str, params: dict[str, Any]) -> dict[str, float]:
    if is_video(task_type):
        seconds = params.get("duration") or params.get("duration_s")
        return {"video_seconds": float(seconds) if isinstance(seconds, int | float) else DEFAULT_VIDEO_SECONDS}
    count = next((params[k] for k in IMAGE_COUNT_PARAMS if isinstance(params.get(k), int) and params[k] > 0), 1)
    return {"images": float(count)}


def cost(price: Price, units: dict[str, float]) -> int:
    total = (
        Decimal(str(price.per_task))
        + Decimal(str(price.per_image)) * Decimal(str(units.get("images", 0)))
        + Decimal(str(price.per_video_second)) * Decimal(str(units.get("video_seconds", 0)))
    )
    return math.ceil(total)


def delivered_units(task_type: str, result: dict[str, Any], asked: dict[str, float]) -> dict[str, float]:
    usage = result.get("usage")
    if isinstance(usage, dict):
        return {k: float(v) for k, v in usage.items() if k in ("images", "video_seconds") and _number(v)}
    assets = [a for a in result.get("assets", []) if isinstance(a, dict)]
    poster = (result.get("poster") or {}).get("id") if isinstance(result.get("poster"), dict) else None
    if is_video(task_type):
        videos = sum(1 for a in assets if str(a.get("content_type", "")).startswith("video/"))
        reported = result.get("video_seconds")
        seconds = float(reported) if _number(reported) else asked.get("video_seconds", 0.0) * videos
        return {"video_seconds": seconds}
    images = sum(1 for a in assets if str(a.get("content_type", "")).startswith("image/") and a.get("id") != poster)
    return {"images": float(images)}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def close(billing: Billing, succeeded: bool, task_type: str, result: dict[str, Any] | None) -> Billing:
    """The billing record of a task that is ending: settled at what it delivered, or refunded."""
    if billing.state != BillingState.held:
        return billing
    if not succeeded:
        return billing.model_copy(update={"state": BillingState.refunded, "charged": 0})
    units = delivered_units(task_type, result or {}, billing.units)
    charged = min(cost(billing.price, units), billing.held)
    return billing.model_copy(update={"state": BillingState.settled, "charged": charged, "units": units})


def hold_for(
    pricing: dict[str, dict[str, Price]], provider: str, task_type: str, params: dict[str, Any]
) -> Billing | None:
    """The billing record a new task starts with: its hold at the configured price; None when it has no price
    (the caller decides whether unpriced tasks are free) or costs nothing."""
    price = pricing.get(provider, {}).get(task_type)
    if price is None:
        return None
    units = requested_units(task_type, params)
    held = cost(price, units)
    return Billing(held=held, price=price, units=units) if held > 0 else None


def is_priced(pricing: dict[str, dict[str, Price]], provider: str, task_type: str) -> bool:
    return task_type in pricing.get(provider, {})
