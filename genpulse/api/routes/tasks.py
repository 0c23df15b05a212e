"""Task routes: submit (with idempotency and `Prefer: wait`), get (with `?wait`), list, cancel, retry."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from genpulse.api.routes import service_of
from genpulse.core.schemas import TaskPage, TaskPublic, TaskRequest, TaskStatus

router = APIRouter(tags=["tasks"])
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)")


@router.post("/v1/tasks", status_code=202, response_model=TaskPublic)
async def submit_task(
    body: TaskRequest,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    prefer: Annotated[str | None, Header(description="`wait=N`: hold up to N s for the result.")] = None,
) -> Any:
    """Submit a task. `202` once it is stored; `200` when `Prefer: wait=N` saw it finish, or on a replay."""
    svc = service_of(request)
    task, created = await svc.submit(body, idempotency_key)
    wait = _prefer_wait(prefer)
    if wait:
        task = await svc.get(task.id, wait)
    status = 200 if (task.is_terminal or not created) else 202
    headers = {"Location": f"/v1/tasks/{task.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(task.public().model_dump(mode="json"), status_code=status, headers=headers)


@router.get("/v1/tasks/{task_id}", response_model=TaskPublic)
async def get_task(
    task_id: str,
    request: Request,
    wait: Annotated[float, Query(ge=0, description="Hold up to N s until the task is terminal.")] = 0,
) -> TaskPublic:
    return (await service_of(request).get(task_id, wait)).public()


@router.get("/v1/tasks", response_model=TaskPage)
async def list_tasks(
    request: Request,
    status: TaskStatus | None = None,
    provider: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> TaskPage:
    """Tasks, newest first. `status=failed` is the dead-letter list."""
    tasks, next_cursor = await service_of(request).list(status=status, provider=provider, limit=limit, cursor=cursor)
    return TaskPage(data=[t.public() for t in tasks], next_cursor=next_cursor)


@router.post("/v1/tasks/{task_id}/cancel", response_model=TaskPublic)
async def cancel_task(task_id: str, request: Request) -> TaskPublic:
    """Cancel a queued or running task; `409` if it already ended."""
    return (await service_of(request).cancel(task_id)).public()


@router.post("/v1/tasks/{task_id}/retry", status_code=202, response_model=TaskPublic)
async def retry_task(task_id: str, request: Request) -> TaskPublic:
    """Re-run a failed or canceled task (the dead-letter path) as a new task with `retry_of` set."""
    return (await service_of(request).retry(task_id)).public()


def _prefer_wait(prefer: str | None) -> float:
    if not prefer:
        return 0.0
    match = _PREFER_WAIT.search(prefer)
    return float(match.group(1)) if match else 0.0
