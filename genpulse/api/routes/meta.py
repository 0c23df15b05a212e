"""Meta routes: the providers with their task types and limits, each provider's params schemas, and the caller's
workflows with the JSON Schema of their inputs (``genpulse.workflows``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from genpulse.api.caller import Caller, principal_of
from genpulse.api.routes import service_of
from genpulse.workflows.values import input_schema

router = APIRouter(tags=["meta"], dependencies=[Depends(principal_of)])  # any valid key


@router.get("/v1/providers")
async def list_providers(request: Request) -> dict[str, Any]:
    """Providers, their task types, whether they are configured, and their limits."""
    # and `out`: set while model aliases route around the instance (docs/openai.md)
    return {"data": await service_of(request).providers()}


@router.get("/meta/schemas")
async def schemas_index(request: Request, caller: Caller) -> dict[str, Any]:
    """What has a schema: each provider (`/meta/schemas/{provider}`) and each of the caller's workflows, with the
    JSON Schema of a run's `inputs` (its latest version; the first 200 by name)."""
    svc = service_of(request)
    tenant = caller.tenant_id  # the admin key alone has no tenant, so no workflows
    workflows = (await svc.workflows.list(tenant=tenant, limit=200))[0] if tenant is not None else []
    return {
        "providers": svc.provider_names(),
        "workflows": {
            w.name: {"version": w.version, "run_url": f"/v1/workflows/{w.name}/runs", "inputs": input_schema(w.params)}
            for w in workflows
        },
    }


@router.get("/meta/schemas/{provider}")
def provider_schemas(provider: str, request: Request) -> dict[str, Any]:
    """JSON Schema of `params` for each task type of `provider`."""
    return service_of(request).provider_schemas(provider)
