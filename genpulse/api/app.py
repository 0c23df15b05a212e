"""The public HTTP API (FastAPI). Plain Python: the Serve ingress mounts it, tests run it with a TestClient.

Routes read their collaborators from ``app.state.service`` (a ``TaskService``), set once by whoever hosts the
app. Errors are raised as ``GenPulseError`` and mapped to responses by ``genpulse.api.errors``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from genpulse import assets
from genpulse.api import errors, metrics, results
from genpulse.api.limits import BodyLimit
from genpulse.errors import ServiceUnavailable
from genpulse.schemas import Asset, ErrorEnvelope, TaskPage, TaskPublic, TaskRequest, TaskStatus
from genpulse.service import TaskService

_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text}
    for code, text in {
        400: "Malformed JSON",
        404: "Unknown id",
        409: "Conflict (idempotency key reuse, terminal task)",
        413: "Body too large",
        422: "Invalid provider, task type or params",
        503: "A dependency is down",
    }.items()
}


def _service(request: Request) -> TaskService:
    return request.app.state.service


def create_api(max_body_bytes: int = 1 << 20) -> FastAPI:
    app = FastAPI(
        title="GenPulse",
        version="0.1.0",
        description="Generative-media jobs as reliable tasks: submit, then wait, poll or stream the result.",
        responses=_ERRORS,
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    errors.install(app)
    app.include_router(metrics.router)
    app.include_router(results.router)

    @app.post("/v1/tasks", status_code=202, response_model=TaskPublic, tags=["tasks"])
    async def submit_task(
        body: TaskRequest,
        request: Request,
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
        prefer: Annotated[str | None, Header(description="`wait=N`: hold up to N s for the result.")] = None,
    ) -> Any:
        """Submit a task. `202` once it is stored; `200` when `Prefer: wait=N` saw it finish, or on a replay."""
        svc = _service(request)
        task, created = await svc.submit(body, idempotency_key)
        wait = _prefer_wait(prefer)
        if wait:
            task = await svc.get(task.id, wait)
        status = 200 if (task.is_terminal or not created) else 202
        headers = {"Location": f"/v1/tasks/{task.id}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(task.public().model_dump(mode="json"), status_code=status, headers=headers)

    @app.get("/v1/tasks/{task_id}", response_model=TaskPublic, tags=["tasks"])
    async def get_task(
        task_id: str,
        request: Request,
        wait: Annotated[float, Query(ge=0, description="Hold up to N s until the task is terminal.")] = 0,
    ) -> TaskPublic:
        return (await _service(request).get(task_id, wait)).public()

    @app.get("/v1/tasks", response_model=TaskPage, tags=["tasks"])
    async def list_tasks(
        request: Request,
        status: TaskStatus | None = None,
        provider: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks, newest first. `status=failed` is the dead-letter list."""
        tasks, next_cursor = await _service(request).store.list(
            status=status, provider=provider, limit=limit, cursor=cursor
        )
        return TaskPage(data=[t.public() for t in tasks], next_cursor=next_cursor)

    @app.post("/v1/tasks/{task_id}/cancel", response_model=TaskPublic, tags=["tasks"])
    async def cancel_task(task_id: str, request: Request) -> TaskPublic:
        """Cancel a queued or running task; `409` if it already ended."""
        return (await _service(request).cancel(task_id)).public()

    @app.post("/v1/tasks/{task_id}/retry", status_code=202, response_model=TaskPublic, tags=["tasks"])
    async def retry_task(task_id: str, request: Request) -> TaskPublic:
        """Re-run a failed or canceled task (the dead-letter path) as a new task with `retry_of` set."""
        return (await _service(request).retry(task_id)).public()

    @app.get("/v1/assets/{asset_id}", response_model=Asset, tags=["assets"])
    def get_asset(asset_id: str, request: Request) -> Asset:
        return _service(request).storage.get(asset_id)

    @app.post(
        "/v1/assets",
        status_code=201,
        response_model=Asset,
        tags=["assets"],
        openapi_extra=assets.UPLOAD_OPENAPI,
        responses={415: {"model": ErrorEnvelope, "description": "File type not accepted"}},
    )
    async def upload_asset(request: Request) -> Asset:
        """Upload a file (multipart field `file`); its type is sniffed from the bytes. Returns the Asset."""
        svc = _service(request)
        return await assets.receive_upload(request, svc.storage, svc.args.storage)

    @app.get("/v1/assets/{asset_id}/content", tags=["assets"], response_class=Response)
    def get_asset_content(asset_id: str, request: Request) -> Response:
        """The bytes (local storage), or `307` to a short-lived presigned URL (S3)."""
        return assets.content_response(_service(request).storage, asset_id)

    @app.get("/v1/providers", tags=["meta"])
    def list_providers(request: Request) -> dict[str, Any]:
        """Providers, their task types, whether they are configured, and their limits."""
        return {"data": [p.info() for p in _service(request).registry.all()]}

    @app.get("/meta/schemas/{provider}", tags=["meta"])
    def provider_schemas(provider: str, request: Request) -> dict[str, Any]:
        """JSON Schema of `params` for each task type of `provider`."""
        p = _service(request).registry.get(provider)
        return {"provider": p.name, "task_types": p.schemas()}

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready(request: Request) -> JSONResponse:
        """Deep readiness: store, storage and every deployment and worker pool; `503` with details if any is down."""
        checks = await _service(request).readiness()
        ok = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
        if ok:
            return JSONResponse(body)
        exc = ServiceUnavailable("not ready", details=checks)
        return errors.error_response(503, exc.type, exc.message, checks, **{"Retry-After": "5"})

    return app


def _prefer_wait(prefer: str | None) -> float:
    if not prefer:
        return 0.0
    match = _PREFER_WAIT.search(prefer)
    return float(match.group(1)) if match else 0.0
