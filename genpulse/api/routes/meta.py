"""Meta routes: the providers with their task types and limits, and each provider's params schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from genpulse.api.caller import principal_of
from genpulse.api.routes import service_of

router = APIRouter(tags=["meta"], dependencies=[Depends(principal_of)])  # any valid key


@router.get("/v1/providers")
def list_providers(request: Request) -> dict[str, Any]:
    """Providers, their task types, whether they are configured, and their limits."""
    return {"data": service_of(request).providers()}


@router.get("/meta/schemas/{provider}")
def provider_schemas(provider: str, request: Request) -> dict[str, Any]:
    """JSON Schema of `params` for each task type of `provider`."""
    return service_of(request).provider_schemas(provider)
