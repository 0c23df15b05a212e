"""A tenant's own account: ``/v1/me``, its ledger, its usage, its webhook signing secret."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from genpulse.api.caller import Caller
from genpulse.api.routes import service_of
from genpulse.tenants.admin import LedgerPage, UsageReport
from genpulse.tenants.models import ApiKeyPublic, TenantView

router = APIRouter(tags=["account"])


class Me(TenantView):
    tenant_id: str = Field(description="Same as `id`.")
    key: ApiKeyPublic | None = Field(None, description="The key this request used (none while auth is off).")


class WebhookSecretRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str | None = Field(None, description="Your own `whsec_<base64>` (24-64 bytes); omit for a new random one.")


class WebhookSecret(BaseModel):
    secret: str = Field(description="Signs your webhooks from now on. Shown in this answer only.")


@router.get("/v1/me", response_model=Me)
async def me(request: Request, caller: Caller) -> Me:
    """Who you are: your tenant, its balance, what is held for running tasks and what is available."""
    view = await service_of(request).tenants.tenant(caller.tenant())
    return Me(**view.model_dump(), tenant_id=view.id, key=caller.key.public() if caller.key else None)


@router.get("/v1/ledger", response_model=LedgerPage)
async def ledger(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> LedgerPage:
    """Your credit movements, newest first: top-ups, adjustments, holds, settlements and refunds."""
    return await service_of(request).tenants.ledger(caller.tenant(), limit, cursor)


@router.get("/v1/usage", response_model=UsageReport)
async def usage(request: Request, caller: Caller) -> UsageReport:
    """Your spend and task counts by day (UTC, of the tasks' end), provider and task type."""
    return await service_of(request).tenants.usage(caller.tenant())


@router.post("/v1/me/webhook-secret", response_model=WebhookSecret)
async def set_webhook_secret(
    request: Request, caller: Caller, body: WebhookSecretRequest | None = None
) -> WebhookSecret:
    """Set the secret that signs your webhooks (each tenant has its own, so a message signed for you cannot be
    replayed to another tenant's receiver). Without a body a new random one is made. Shown once."""
    secret = await service_of(request).tenants.webhook_secret(caller.tenant(), body.secret if body else None)
    return WebhookSecret(secret=secret)
