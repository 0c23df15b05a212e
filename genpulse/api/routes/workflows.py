"""Workflow routes: upload a ComfyUI graph as a typed, versioned API, read it, retire a version, run it.

Uploads answer `201` with a new version, `200` with the version an identical upload already made; runs answer
like `POST /v1/tasks` (`202`, or `200` on an idempotent replay). Everything is the caller's tenant's own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from genpulse.api.caller import Caller
from genpulse.api.routes import service_of
from genpulse.core.schemas import TaskPublic
from genpulse.workflows.models import (
    VersionSummary,
    Workflow,
    WorkflowPage,
    WorkflowPublic,
    WorkflowRun,
    WorkflowUpload,
)
from genpulse.workflows.values import input_schema

router = APIRouter(tags=["workflows"])


def public(workflow: Workflow, versions: list[Workflow] | None = None, *, graph: bool = False) -> WorkflowPublic:
    return WorkflowPublic(
        name=workflow.name,
        version=workflow.version,
        hash=workflow.hash,
        description=workflow.description,
        inputs=input_schema(workflow.params),
        outputs=workflow.outputs,
        source=workflow.source,
        analyzed_with=workflow.analyzed_with,
        created_at=workflow.created_at,
        retired_at=workflow.retired_at,
        run_url=f"/v1/workflows/{workflow.name}/runs",
        workflow=workflow.graph if graph else None,
        versions=None
        if versions is None
        else [
            VersionSummary(version=v.version, hash=v.hash, created_at=v.created_at, retired_at=v.retired_at)
            for v in versions
        ],
    )


@router.post(
    "/v1/workflows",
    status_code=201,
    response_model=WorkflowPublic,
    responses={200: {"model": WorkflowPublic, "description": "An identical upload: the version it made"}},
)
async def upload_workflow(
    body: WorkflowUpload,
    request: Request,
    caller: Caller,
    tenant: Annotated[str | None, Query(max_length=64, description="Admin only: upload for this tenant.")] = None,
) -> Any:
    """Store a ComfyUI workflow (API or UI format) as the next version of `name`; `200` when an identical upload
    already made a version that is not retired (that version is returned)."""
    workflow, created = await service_of(request).workflows.upload(body, caller=caller, tenant=tenant)
    body_json = public(workflow).model_dump(mode="json")
    headers = {"Location": f"/v1/workflows/{workflow.name}/versions/{workflow.version}"}
    return JSONResponse(body_json, status_code=201 if created else 200, headers=headers)


@router.get("/v1/workflows", response_model=WorkflowPage)
async def list_workflows(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> WorkflowPage:
    """The caller's workflows by name, each at its latest version that is not retired."""
    found, next_cursor = await service_of(request).workflows.list(tenant=caller.tenant(), limit=limit, cursor=cursor)
    return WorkflowPage(data=[public(w) for w in found], next_cursor=next_cursor)


@router.get("/v1/workflows/{name}", response_model=WorkflowPublic)
async def get_workflow(name: str, request: Request, caller: Caller) -> WorkflowPublic:
    """The latest version that is not retired, with the list of every version."""
    workflows = service_of(request).workflows
    tenant = caller.tenant()
    return public(await workflows.get(name, tenant=tenant), await workflows.versions(name, tenant=tenant))


@router.get("/v1/workflows/{name}/versions/{version}", response_model=WorkflowPublic)
async def get_workflow_version(name: str, version: int, request: Request, caller: Caller) -> WorkflowPublic:
    """One version, retired or not, with its stored graph (API format, as converted and checked at upload)."""
    return public(await service_of(request).workflows.get(name, version, tenant=caller.tenant()), graph=True)


@router.delete("/v1/workflows/{name}/versions/{version}", response_model=WorkflowPublic)
async def retire_workflow_version(name: str, version: int, request: Request, caller: Caller) -> WorkflowPublic:
    """Retire a version: it can no longer be run (`409`); it stays readable, and so do its past runs."""
    return public(await service_of(request).workflows.retire(name, version, tenant=caller.tenant()))


@router.post(
    "/v1/workflows/{name}/runs",
    status_code=202,
    response_model=TaskPublic,
    responses={200: {"model": TaskPublic, "description": "A replay (same Idempotency-Key), or a run already ended"}},
)
async def run_workflow(
    name: str,
    body: WorkflowRun,
    request: Request,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Any:
    """Run the workflow (its latest version, or `version`) with `inputs`: a `comfyui` task of type `workflow`.
    A bad input is a `422` naming it; a retired version a `409`."""
    task, created = await service_of(request).workflows.run(name, body, idempotency_key, caller=caller)
    headers = {"Location": f"/v1/tasks/{task.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    status = 202 if created and not task.is_terminal else 200
    return JSONResponse(task.public().model_dump(mode="json"), status_code=status, headers=headers)
