"""The API's routers, one per resource; each route calls the ``TaskService`` on ``app.state.service``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from genpulse.jobs.service import TaskService


def service_of(request: Request) -> TaskService:
    return request.app.state.service
