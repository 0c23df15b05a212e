"""The admin API: tenants, their API keys and credits; every tenant's tasks; the system report (limiters, worker
pools, storage). Every route needs the admin key (``auth.admin_key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from genpulse.api.caller import admin_only
from genpulse.api.routes import service_of
from genpulse.core.schemas import TaskPage, TaskPublic, TaskStatus
from genpulse.jobs.system import SystemReport
from genpulse.tenants.admin import CreatedKey, UsageReport
from genpulse.tenants.models import ApiKeyPublic, KeyLimits, KeyScopes, TenantView

router = APIRouter(tags=["admin"], dependencies=[Depends(admin_only)])


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    credits: int = Field(0, ge=0, description="Initial credits (a top-up in the ledger).")


class TenantPage(BaseModel):
    data: list[TenantView]
    next_cursor: str | None = None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    expires_at: float | None = Field(None, description="Unix seconds after which the key stops working.")
    scopes: KeyScopes = Field(default_factory=KeyScopes)
    limits: KeyLimits = Field(default_factory=KeyLimits)


class KeyList(BaseModel):
    data: list[ApiKeyPublic]


class CreditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(description="Credits: positive tops up, negative adjusts down (not below what is held).")
    note: str | None = Field(None, max_length=500)


@router.post("/v1/admin/tenants", status_code=201, response_model=TenantView)
async def create_tenant(body: TenantCreate, request: Request) -> TenantView:
    """Create a tenant, optionally with initial credits."""
    return await service_of(request).tenants.create_tenant(body.name, body.credits)


@router.get("/v1/admin/tenants", response_model=TenantPage)
async def list_tenants(
    request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None
) -> TenantPage:
    """Tenants, newest first, with their balances."""
    tenants, next_cursor = await service_of(request).tenants.tenants(limit, cursor)
    return TenantPage(data=tenants, next_cursor=next_cursor)


@router.get("/v1/admin/tenants/{tenant_id}", response_model=TenantView)
async def get_tenant(tenant_id: str, request: Request) -> TenantView:
    return await service_of(request).tenants.tenant(tenant_id)


@router.post("/v1/admin/tenants/{tenant_id}/keys", status_code=201, response_model=CreatedKey)
async def create_key(tenant_id: str, body: KeyCreate, request: Request) -> CreatedKey:
    """Make an API key for the tenant. The answer's `key` is the secret, shown this once (only its hash is kept)."""
    return await service_of(request).tenants.create_key(
        tenant_id, name=body.name, expires_at=body.expires_at, scopes=body.scopes, limits=body.limits
    )


@router.get("/v1/admin/tenants/{tenant_id}/keys", response_model=KeyList)
async def list_keys(tenant_id: str, request: Request) -> KeyList:
    """The tenant's keys (never their secrets), revoked ones included."""
    return KeyList(data=await service_of(request).tenants.keys(tenant_id))


@router.delete("/v1/admin/keys/{key_id}", response_model=ApiKeyPublic)
async def revoke_key(key_id: str, request: Request) -> ApiKeyPublic:
    """Revoke a key: from this answer on, every ingress replica refuses it (401)."""
    return await service_of(request).tenants.revoke_key(key_id)


@router.post("/v1/admin/tenants/{tenant_id}/credits", response_model=TenantView)
async def credit_tenant(tenant_id: str, body: CreditRequest, request: Request) -> TenantView:
    """Top up (positive) or adjust (negative) a tenant's credits; written to its ledger."""
    return await service_of(request).tenants.credit(tenant_id, body.amount, body.note)


@router.get("/v1/admin/tenants/{tenant_id}/usage", response_model=UsageReport)
async def tenant_usage(tenant_id: str, request: Request) -> UsageReport:
    """The tenant's spend and task counts by day (UTC, of the tasks' end), provider and task type."""
    tenants = service_of(request).tenants
    await tenants.tenant(tenant_id)  # 404 for an unknown tenant
    return await tenants.usage(tenant_id)


@router.get("/v1/admin/tasks", response_model=TaskPage)
async def list_all_tasks(
    request: Request,
    status: TaskStatus | None = None,
    provider: str | None = None,
    tenant: Annotated[str | None, Query(description="Only this tenant's tasks.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> TaskPage:
    """Every tenant's tasks, newest first, each with its `tenant_id`; filters as on `GET /v1/tasks`."""
    tasks, next_cursor = await service_of(request).list(
        status=status, provider=provider, tenant=tenant, limit=limit, cursor=cursor
    )
    return TaskPage(data=[t.public() for t in tasks], next_cursor=next_cursor)


@router.get("/v1/admin/tasks/{task_id}", response_model=TaskPublic)
async def get_any_task(task_id: str, request: Request) -> TaskPublic:
    """Any tenant's task."""
    return (await service_of(request).get(task_id)).public()


@router.get("/v1/admin/system", response_model=SystemReport)
async def system(request: Request) -> SystemReport:
    """Per provider: its rate limiter (calls in the window and waiting, job slots held and waiting, vendor 429s),
    its worker pool (tasks each worker drives now) and its open queue; the storage backend and the task store.
    A limiter or worker that does not answer in 3 s shows its error instead."""
    return await service_of(request).system()
