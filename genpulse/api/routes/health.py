"""Health routes: liveness (`/health`) and deep readiness (`/health/ready`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from genpulse.api.error_responses import error_response
from genpulse.api.routes import service_of
from genpulse.core.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    """Deep readiness: store, storage and every deployment and worker pool; `503` with details if any is down."""
    checks = await service_of(request).readiness()
    ok = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
    if ok:
        return JSONResponse(body)
    return error_response(ServiceUnavailable("not ready", details=checks, retry_after=5))
