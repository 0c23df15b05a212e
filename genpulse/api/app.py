"""The public HTTP API (FastAPI). Plain Python: the Serve ingress mounts it, tests run it with a TestClient.

``create_api`` assembles the routers (``genpulse.api.routes``: tasks, results, assets, meta, health, metrics),
the body-size limit, the cap on long-lived requests (``genpulse.api.long_lived``, on ``app.state.long_lived``)
and the error mapping (``genpulse.api.error_responses``). Routes call the ``TaskService`` set on
``app.state.service`` by whoever hosts the app; errors are raised as ``GenPulseError``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from genpulse import console
from genpulse.api import error_responses, openapi_params
from genpulse.api.body_limit import BodyLimit
from genpulse.api.finite_numbers import reject_non_finite_numbers
from genpulse.api.long_lived import LongLivedLimit
from genpulse.api.openai import router as openai_router
from genpulse.api.routes import (
    account,
    admin,
    assets,
    callbacks,
    events,
    health,
    meta,
    prometheus,
    results,
    tasks,
    workflows,
)
from genpulse.core.schemas import ErrorEnvelope

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text}
    for code, text in {
        400: "Malformed JSON",
        401: "Missing, unknown, revoked or expired API key",
        402: "Insufficient credits (`insufficient_credits`; balance and price in `details`)",
        403: "The key may not do this (admin route, provider or task type out of its scopes)",
        404: "Unknown id (or another tenant's)",
        409: "Conflict (idempotency key reuse, terminal task)",
        413: "Body too large",
        422: "Invalid provider, task type or params",
        429: "Rate limited (a key's requests/second or concurrent tasks); see `Retry-After`",
        503: "A dependency is down",
    }.items()
}


def create_api(max_body_bytes: int = 1 << 20, max_long_lived: int = 256) -> FastAPI:
    """The app; ``max_long_lived`` is this replica's cap on event streams and waits (``server.max_long_lived``)."""
    app = FastAPI(
        title="GenPulse",
        version="0.1.0",
        description="Generative-media jobs as reliable tasks: submit, then wait, poll or stream the result.",
        responses=_ERRORS,
        dependencies=[Depends(reject_non_finite_numbers)],  # NaN/Infinity/1e999 in any JSON body: 422
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    error_responses.install(app)
    app.state.long_lived = LongLivedLimit(max_long_lived)
    routers = (prometheus.router, results.router, tasks.router, assets.router, meta.router, health.router)
    for router in (*routers, events.router, account.router, admin.router, callbacks.router, workflows.router):
        app.include_router(router)
    app.include_router(openai_router)  # OpenAI-compatible: /v1/models, /v1/images/*, /v1/videos
    console.mount(app)  # the web console at /console
    openapi_params.install(app)  # typed params per provider and task type, every status
    return app
