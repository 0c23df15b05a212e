"""Task routes: submit (with idempotency and `Prefer: wait`), get (with `?wait`), list, cancel, retry (idempotent).

A wait (`?wait=N`, `Prefer: wait=N`) is a long-lived request: it takes a slot of the replica's cap
(``genpulse.api.long_lived``) before it waits; beyond the cap it is answered 503 with `Retry-After` at once, and a
submit refused so is not stored. A `?wait` on a task that has already ended answers without a slot.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from genpulse.api.caller import Caller
from genpulse.api.long_lived import long_lived_of
from genpulse.api.routes import service_of
from genpulse.core.schemas import Task, TaskPage, TaskPublic, TaskRequest, TaskStatus

router = APIRouter(tags=["tasks"])
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)")


@router.post("/v1/tasks", status_code=202, response_model=TaskPublic)
async def submit_task(
    body: TaskRequest,
    request: Request,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    prefer: Annotated[str | None, Header(description="`wait=N`: hold up to N s for the result.")] = None,
) -> Any:
    """Submit a task. `202` once it is stored; `200` when `Prefer: wait=N` saw it finish, or on a replay.
    With `Prefer: wait=N` while the replica holds its cap of long-lived requests: `503` with `Retry-After`, and
    nothing is stored."""
    svc = service_of(request)
    wait = _prefer_wait(prefer)
    if not _holds(request, wait):
        task, created = await svc.submit(body, idempotency_key, caller=caller)
    else:
        with long_lived_of(request).take("wait"):  # before the submit: a refused request stores nothing
            task, created = await svc.submit(body, idempotency_key, caller=caller)
            task = await svc.get(task.id, wait)
    return _created(task, created)


@router.get("/v1/tasks/{task_id}", response_model=TaskPublic)
async def get_task(
    task_id: str,
    request: Request,
    caller: Caller,
    wait: Annotated[
        float, Query(ge=0, allow_inf_nan=False, description="Hold up to N s until the task is terminal.")
    ] = 0,
) -> TaskPublic:
    """The task; `?wait=N` holds the answer until it ends (`503` with `Retry-After` when the replica holds its cap
    of long-lived requests)."""
    svc = service_of(request)
    tenant = caller.tenant()
    task = await svc.get(task_id, tenant=tenant)  # 404 first; a task that already ended needs no wait slot
    if task.is_terminal or not _holds(request, wait):
        return task.public()
    with long_lived_of(request).take("wait"):
        return (await svc.get(task_id, wait, tenant=tenant)).public()


@router.get("/v1/tasks", response_model=TaskPage)
async def list_tasks(
    request: Request,
    caller: Caller,
    status: TaskStatus | None = None,
    provider: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> TaskPage:
    """The caller's tasks, newest first. `status=failed` is the dead-letter list."""
    tasks, next_cursor = await service_of(request).list(
        status=status, provider=provider, tenant=caller.tenant(), limit=limit, cursor=cursor
    )
    return TaskPage(data=[t.public() for t in tasks], next_cursor=next_cursor)


@router.post("/v1/tasks/{task_id}/cancel", response_model=TaskPublic)
async def cancel_task(task_id: str, request: Request, caller: Caller) -> TaskPublic:
    """Cancel a queued or running task; `409` if it already ended. A held price is refunded."""
    return (await service_of(request).cancel(task_id, tenant=caller.tenant())).public()


@router.post("/v1/tasks/{task_id}/retry", status_code=202, response_model=TaskPublic)
async def retry_task(
    task_id: str,
    request: Request,
    caller: Caller,
    idempotency_key: Annotated[
        str | None, Header(max_length=255, description="Same key, same task: the retry it made first (`200`).")
    ] = None,
) -> Any:
    """Re-run a failed or canceled task (the dead-letter path) as a new task with `retry_of` set. `202`; with
    `Idempotency-Key`, a repeat answers `200` with the same new task (`Idempotent-Replayed: true`), and the key on
    another request (another task's retry, a submit) is a `409`."""
    task, created = await service_of(request).retry(task_id, idempotency_key, caller=caller)
    return _created(task, created)


def _created(task: Task, created: bool) -> JSONResponse:
    """The answer to a request that made ``task`` (``created``) or replayed it by its idempotency key."""
    status = 200 if (task.is_terminal or not created) else 202
    headers = {"Location": f"/v1/tasks/{task.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(task.public().model_dump(mode="json"), status_code=status, headers=headers)


def _holds(request: Request, wait: float) -> bool:
    """Whether a wait of ``wait`` seconds would hold the request (the service caps it by `server.max_wait_s`)."""
    return min(wait, service_of(request).args.server.max_wait_s) > 0


def _prefer_wait(prefer: str | None) -> float:
    if not prefer:
        return 0.0
    match = _PREFER_WAIT.search(prefer)
    return float(match.group(1)) if match else 0.0
