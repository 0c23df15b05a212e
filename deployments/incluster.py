"""In-cluster access: Ray jobs and deployments submit and await tasks through the app's DeploymentHandle.

    from deployments.incluster import get_client

    gp = get_client("genpulse")
    task = await gp.run({"provider": "diffusers", "task_type": "text-to-image", "params": {"prompt": "a fox"}})

The calls land on the ``Ingress`` replicas' ``TaskService`` (``HandleAPI`` below), so they make the same
records, pass the same validation and body-size limit, and share the same idempotency as HTTP. The client
retries back-pressure and replica loss with the submit's idempotency key (always set), so a retried submit
never creates two tasks. Errors arrive as the ``genpulse.core.errors`` tree; a failed task is ``TaskFailed``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from pydantic import ValidationError
from ray import serve
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle

from genpulse.client import TaskFailed
from genpulse.core.errors import GenPulseError, InvalidRequest, PayloadTooLarge, ServiceUnavailable
from genpulse.core.schemas import TaskPublic, TaskRequest
from genpulse.core.validation import field_errors, summary
from genpulse.jobs.service import TaskService
from genpulse.tenants.auth import Principal, authenticate

_RETRYABLE = (BackPressureError, DeploymentUnavailableError, RayActorError)
_CHUNK_S = 50.0


class HandleAPI:
    """Methods the ``Ingress`` deployment exposes to handles (it mixes this in next to its FastAPI app)."""

    service: TaskService
    max_body_bytes: int

    async def _caller(self, api_key: str | None) -> Principal:
        return await authenticate(f"Bearer {api_key}" if api_key else None, self.service.args.auth, self.service.store)

    async def submit_task(
        self, body: dict[str, Any], idempotency_key: str | None = None, api_key: str | None = None
    ) -> dict[str, Any]:
        size = len(json.dumps(body, default=str))
        if size > self.max_body_bytes:
            raise PayloadTooLarge(f"request body exceeds {self.max_body_bytes} bytes")
        try:
            request = TaskRequest.model_validate(body)
        except ValidationError as exc:
            problems = field_errors(exc.errors())
            raise InvalidRequest(summary("invalid request", problems), details=problems) from None
        task, _ = await self.service.submit(request, idempotency_key, caller=await self._caller(api_key))
        return task.public().model_dump(mode="json")

    async def get_task(self, task_id: str, wait: float = 0, api_key: str | None = None) -> dict[str, Any]:
        tenant = (await self._caller(api_key)).tenant()
        return (await self.service.get(task_id, wait, tenant=tenant)).public().model_dump(mode="json")

    async def cancel_task(self, task_id: str, api_key: str | None = None) -> dict[str, Any]:
        tenant = (await self._caller(api_key)).tenant()
        return (await self.service.cancel(task_id, tenant=tenant)).public().model_dump(mode="json")


class InClusterClient:
    def __init__(
        self,
        handle: DeploymentHandle,
        *,
        api_key: str | None = None,
        max_retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        """``api_key``: a tenant's key, needed when the app runs with ``auth.mode: keys``."""
        self._handle, self.max_retries, self.backoff_s = handle, max_retries, backoff_s
        self._api_key = api_key

    async def _call(self, method: str, *args: Any) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            try:
                return await getattr(self._handle, method).remote(*args, api_key=self._api_key)
            except RayTaskError as exc:
                cause = exc.cause
                if isinstance(cause, GenPulseError):
                    raise cause from None
                raise
            except _RETRYABLE as exc:
                if attempt >= self.max_retries:
                    raise ServiceUnavailable(f"GenPulse app unavailable: {type(exc).__name__}") from None
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    async def submit(self, request: TaskRequest | dict[str, Any], *, idempotency_key: str | None = None) -> TaskPublic:
        body = request.model_dump(mode="json") if isinstance(request, TaskRequest) else request
        key = idempotency_key or body.get("idempotency_key") or f"incluster-{uuid.uuid4()}"
        return TaskPublic.model_validate(await self._call("submit_task", body, key))

    async def get(self, task_id: str, *, wait: float = 0) -> TaskPublic:
        return TaskPublic.model_validate(await self._call("get_task", task_id, wait))

    async def wait(self, task_id: str, *, timeout: float = 600) -> TaskPublic:
        """The finished task (held server-side by wait mode, chunk by chunk); ``TimeoutError`` past ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            task = await self.get(task_id, wait=max(0.0, min(_CHUNK_S, deadline - time.monotonic())))
            if task.status.is_terminal:
                return task
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} still {task.status.value}")
            await asyncio.sleep(0.05)  # the server caps a wait below our chunk: do not spin

    async def run(self, request: TaskRequest | dict[str, Any], *, timeout: float = 600) -> TaskPublic:
        """Submit and await the finished task; ``TaskFailed`` if it failed or was canceled."""
        task = await self.wait((await self.submit(request)).id, timeout=timeout)
        if task.status != "succeeded":
            raise TaskFailed(task)
        return task

    async def cancel(self, task_id: str) -> TaskPublic:
        return TaskPublic.model_validate(await self._call("cancel_task", task_id))


def get_client(app_name: str = "genpulse", **options: Any) -> InClusterClient:
    """A client for the GenPulse app ``app_name`` running on this Ray cluster (call from a driver or replica)."""
    return InClusterClient(serve.get_deployment_handle("Ingress", app_name), **options)
