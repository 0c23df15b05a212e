"""``AsyncGenPulse``: the asyncio twin of ``GenPulse`` (same methods, same behaviour, awaited)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any, Literal

import httpx

from genpulse.client import _common as c
from genpulse.core.schemas import TERMINAL, Asset, TaskPage, TaskPublic
from genpulse.tasks.outbox import DeliveryPublic
from genpulse.workflows.models import WorkflowPublic


class AsyncGenPulse:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = http_client or httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)
        self.timeout, self.max_retries, self.backoff_s = timeout, max_retries, backoff_s

    async def __aenter__(self) -> AsyncGenPulse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, *, safe: bool = True, timeout: float | None = None, **kw: Any
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, timeout=timeout or self.timeout, **kw)
            except httpx.HTTPError as exc:
                if not c.may_retry(attempt, self.max_retries, response=None, exc=exc, safe=safe):
                    raise c.unreachable(exc) from exc
                await asyncio.sleep(c.delay(attempt, self.backoff_s))
            else:
                if not c.may_retry(attempt, self.max_retries, response=response, exc=None, safe=safe):
                    c.raise_for_error(response)
                    return response
                await asyncio.sleep(c.delay(attempt, self.backoff_s, response))
            attempt += 1

    async def submit(
        self,
        provider: str,
        task_type: str,
        params: dict[str, Any] | None = None,
        *,
        webhook_url: str | None = None,
        priority: str = "normal",
        metadata: dict[str, Any] | None = None,
        deadline_s: float | None = None,
        idempotency_key: str | None = None,
        wait: float = 0,
    ) -> TaskPublic:
        """Submit a task; with ``wait`` > 0 the server holds the answer up to that long for the finished task."""
        body = c.submit_body(
            provider,
            task_type,
            params,
            webhook_url=webhook_url,
            priority=priority,
            metadata=metadata,
            deadline_s=deadline_s,
        )
        headers = {"Idempotency-Key": idempotency_key or c.new_idempotency_key()}
        if wait > 0:
            headers["Prefer"] = f"wait={wait:g}"
        r = await self._request("POST", "/v1/tasks", json=body, headers=headers, timeout=self.timeout + wait)
        return TaskPublic.model_validate(r.json())

    async def get(self, task_id: str, *, wait: float = 0) -> TaskPublic:
        params = {"wait": f"{wait:g}"} if wait > 0 else None
        r = await self._request("GET", f"/v1/tasks/{task_id}", params=params, timeout=self.timeout + wait)
        return TaskPublic.model_validate(r.json())

    async def wait(
        self,
        task_id: str,
        *,
        timeout: float = 600,
        via: Literal["wait", "sse"] = "wait",
        raise_on_failure: bool = False,
    ) -> TaskPublic:
        """The finished task. ``via="wait"`` long-polls (polling with backoff where the server won't hold);
        ``via="sse"`` follows the event stream, falling back to long-polling if the stream breaks."""
        deadline = time.monotonic() + timeout
        task: TaskPublic | None = None
        if via == "sse":
            task = await self._wait_sse(task_id, deadline)
        if task is None:
            task = await self._wait_poll(task_id, deadline)
        if raise_on_failure and task.status != "succeeded":
            raise c.TaskFailed(task)
        return task

    async def _wait_sse(self, task_id: str, deadline: float) -> TaskPublic | None:
        try:
            async for event in self.events(task_id, timeout=max(0.0, deadline - time.monotonic())):
                if event.task is not None:
                    return event.task
        except (TimeoutError, c.ServiceUnavailable):
            pass
        return None

    async def _wait_poll(self, task_id: str, deadline: float) -> TaskPublic:
        plan = c.WaitPlan(timeout=deadline - time.monotonic())
        while True:
            remaining = deadline - time.monotonic()
            asked = plan.chunk(remaining)
            started = time.monotonic()
            task = await self.get(task_id, wait=asked)
            if task.status in TERMINAL:
                return task
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"task {task_id} still {task.status.value}")
            await asyncio.sleep(plan.pause_after(asked, time.monotonic() - started, remaining))

    async def run(
        self,
        provider: str,
        task_type: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 600,
        **submit: Any,
    ) -> TaskPublic:
        """Submit and wait; the succeeded task, or ``TaskFailed`` carrying the task's error."""
        task = await self.submit(provider, task_type, params, **submit)
        return await self.wait(task.id, timeout=timeout, raise_on_failure=True)

    async def events(
        self, task_id: str, *, last_event_id: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[c.StreamEvent]:
        """Every status/progress change until the task ends; reconnects (``Last-Event-ID``) if the stream drops."""
        decoder = c.SSEDecoder(last_id=None if last_event_id is None else str(last_event_id))
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        while True:
            headers = {"Last-Event-ID": decoder.last_id} if decoder.last_id else {}
            try:
                async with self._http.stream("GET", f"/v1/tasks/{task_id}/events", headers=headers) as r:
                    if r.status_code >= 400:
                        await r.aread()
                        c.raise_for_error(r)
                    async for line in r.aiter_lines():
                        if deadline is not None and time.monotonic() > deadline:
                            raise TimeoutError(f"task {task_id}: no terminal event in time")
                        event = decoder.feed(line)
                        if event is not None:
                            failures = 0
                            yield event
                            if event.task is not None:
                                return
                return  # the server ended the stream: the task is over
            except httpx.HTTPError as exc:
                if failures >= self.max_retries:
                    raise c.unreachable(exc) from exc
                await asyncio.sleep(c.delay(failures, self.backoff_s))
                failures += 1

    async def cancel(self, task_id: str) -> TaskPublic:
        return TaskPublic.model_validate((await self._request("POST", f"/v1/tasks/{task_id}/cancel")).json())

    async def retry(self, task_id: str, *, idempotency_key: str | None = None) -> TaskPublic:
        """Re-run a failed or canceled task as a new task. Always sends ``Idempotency-Key`` (generated when not
        given), so a retried request (503, lost connection) returns the same new task, never a second one."""
        headers = {"Idempotency-Key": idempotency_key or c.new_idempotency_key()}
        r = await self._request("POST", f"/v1/tasks/{task_id}/retry", headers=headers)
        return TaskPublic.model_validate(r.json())

    async def list_tasks(
        self, *, status: str | None = None, provider: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> TaskPage:
        params = {k: v for k, v in {"status": status, "provider": provider, "cursor": cursor}.items() if v}
        return TaskPage.model_validate(
            (await self._request("GET", "/v1/tasks", params={**params, "limit": limit})).json()
        )

    async def upload(
        self, data: bytes | str | Path | IO[bytes], *, content_type: str | None = None, filename: str | None = None
    ) -> Asset:
        """Upload bytes, a file path or a binary file object as an Asset (``POST /v1/assets``, multipart)."""
        name, blob, ctype = c.upload_part(data, content_type, filename)
        r = await self._request("POST", "/v1/assets", files={"file": (name, blob, ctype)}, safe=False)
        return Asset.model_validate(r.json())

    async def asset(self, asset_id: str) -> Asset:
        return Asset.model_validate((await self._request("GET", f"/v1/assets/{asset_id}")).json())

    async def download(self, asset: Asset | str, path: str | Path | None = None) -> bytes:
        """An asset's bytes (following a redirect to presigned storage); also written to ``path`` when given."""
        asset_id = asset.id if isinstance(asset, Asset) else asset
        r = await self._request("GET", f"/v1/assets/{asset_id}/content", follow_redirects=True)
        if path is not None:
            await asyncio.to_thread(Path(path).write_bytes, r.content)
        return r.content

    async def webhooks(self, task_id: str) -> list[DeliveryPublic]:
        data = (await self._request("GET", f"/v1/tasks/{task_id}/webhooks")).json()["data"]
        return [DeliveryPublic.model_validate(d) for d in data]

    async def redeliver(self, task_id: str) -> DeliveryPublic:
        return DeliveryPublic.model_validate(
            (await self._request("POST", f"/v1/tasks/{task_id}/webhooks/redeliver")).json()
        )

    async def upload_workflow(
        self,
        name: str,
        workflow: dict[str, Any],
        *,
        description: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> WorkflowPublic:
        """Store a ComfyUI workflow (API or UI format) as the next version of ``name``; the same content again
        returns the version it made (docs/workflows.md)."""
        body = {"name": name, "workflow": workflow, "description": description, "inputs": inputs or {}}
        return WorkflowPublic.model_validate((await self._request("POST", "/v1/workflows", json=body)).json())

    async def workflow(self, name: str, version: int | None = None) -> WorkflowPublic:
        """The latest version not retired (with every version listed), or version ``version`` (with its graph)."""
        path = f"/v1/workflows/{name}" + (f"/versions/{version}" if version else "")
        return WorkflowPublic.model_validate((await self._request("GET", path)).json())

    async def run_workflow(
        self,
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        version: int | None = None,
        random_seed: bool = False,
        webhook_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        deadline_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> TaskPublic:
        """Run a stored workflow with ``inputs``: a ``comfyui`` task of type ``workflow`` (``wait`` for it)."""
        body = c.workflow_run_body(
            inputs,
            version=version,
            random_seed=random_seed,
            webhook_url=webhook_url,
            metadata=metadata,
            deadline_s=deadline_s,
        )
        headers = {"Idempotency-Key": idempotency_key or c.new_idempotency_key()}
        r = await self._request("POST", f"/v1/workflows/{name}/runs", json=body, headers=headers)
        return TaskPublic.model_validate(r.json())
