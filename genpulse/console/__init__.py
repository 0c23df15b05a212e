"""The web console: static HTML and JavaScript modules served by the ingress at ``/console`` (no build step, nothing
loaded from another host). It talks to the public API from the browser, with the API key kept in
``sessionStorage``; see docs/console.md. ``mount`` is called by ``create_api``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the console at ``/console/`` (``/console`` redirects there)."""

    @app.get("/console", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/")

    app.mount("/console/", StaticFiles(directory=STATIC, html=True), name="console")
