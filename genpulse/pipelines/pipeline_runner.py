"""PipelineRunner: runs a ``pipeline`` task as a chain of steps, each step's output an Asset in the task.

Steps that call a provider are child tasks of that provider (``idempotency_key = "{task id}:{step}"`` in
the children's own key space, ``CHILD_SCOPE``, which callers' keys never reach; ``metadata.parent``): they get
the provider's rate limiter, checkpointing, retries with backoff and re-hosting, and a resumed pipeline finds
the same child instead of submitting another (never paying twice). The CPU step
(fitting the first frame) runs through ``run_step`` (a Ray task with ``max_retries`` in a cluster); its output
asset id is the pipeline's checkpoint (``provider_task_id``), which makes the video step's body, and so its
idempotency key, stable across resumptions. A child that ends failed or canceled fails the pipeline with its
error (the child already had its retries); canceling the pipeline cancels the child in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from genpulse.core.errors import ExecutionError, GenPulseError, error_from_dict
from genpulse.core.schemas import Asset, Task, TaskRequest, TaskStatus
from genpulse.jobs.runners import RunContext
from genpulse.media.inputs import InputResolver
from genpulse.pipelines.frames import prepare_frame, spec_for
from genpulse.pipelines.pipeline_provider import (
    ImageToVideoParams,
    PipelineProvider,
    TextToImageToVideoParams,
    step_params,
)
from genpulse.pipelines.steps import run_step
from genpulse.tasks.store import CHILD_SCOPE
from genpulse.tenants.auth import Principal


class ChildTasks(Protocol):
    """What a pipeline needs to run its steps as tasks: the hosting process's ``TaskService`` provides it."""

    async def submit(
        self,
        request: TaskRequest,
        idempotency_key: str | None = None,
        *,
        caller: Principal = ...,
        key_scope: str | None = None,
        billed: bool = True,
    ) -> tuple[Task, bool]: ...

    async def get(self, task_id: str, wait: float = 0) -> Task: ...

    async def cancel(self, task_id: str) -> Task: ...


class PipelineRunner:
    def __init__(
        self,
        provider: PipelineProvider,
        tasks: Callable[[], ChildTasks],
        inputs: InputResolver,
        *,
        max_wait_s: float = 30.0,
    ) -> None:
        self.provider, self._tasks, self.inputs = provider, tasks, inputs
        self._max_wait_s = max_wait_s or 1.0

    async def cancel_job(self, task: Task) -> bool:
        return False  # its steps are tasks of their own, canceled through their providers' workers

    def wake(self, task_id: str) -> bool:
        return False  # its steps' vendor callbacks wake their own workers

    async def run(self, task: Task, ctx: RunContext) -> dict[str, Any]:
        params = self.provider.param_models()[task.task_type].model_validate(task.params)
        steps: list[dict[str, Any]] = []
        if isinstance(params, TextToImageToVideoParams):
            image_task = await self._child(
                task, "image", params.image_provider, "text-to-image", step_params(params)[0]
            )
            steps.append(_record("image", image_task))
            source = image_task.result["assets"][0]["id"]  # type: ignore[index]
        else:
            assert isinstance(params, ImageToVideoParams)
            source = params.image
        await ctx.progress(20)
        frame = await self._frame(task, ctx, source, params.video_provider)
        steps.append({"name": "frame", "assets": [frame.model_dump(mode="json")]})
        await ctx.progress(30)
        video_task = await self._child(
            task, "video", params.video_provider, "image-to-video", step_params(params, frame.id)[1]
        )
        steps.append(_record("video", video_task))
        poster = frame.model_dump(mode="json")
        return {"assets": [*video_task.result["assets"], poster], "poster": poster, "steps": steps}  # type: ignore[index]

    async def _frame(self, task: Task, ctx: RunContext, source: str, video_provider: str) -> Asset:
        if task.provider_task_id is not None:  # resumed: the frame is already stored
            return await asyncio.to_thread(ctx.storage.get, task.provider_task_id)
        image = await self.inputs.image(source, want="bytes", field="params.image")
        data, _, _ = await run_step(prepare_frame, image.data, spec_for(video_provider))
        frame = await asyncio.to_thread(ctx.storage.put, data, "image/jpeg")
        await ctx.checkpoint(frame.id)
        return frame

    async def _child(self, task: Task, step: str, provider: str, task_type: str, params: dict[str, Any]) -> Task:
        service = self._tasks()
        request = TaskRequest(
            provider=provider,
            task_type=task_type,
            params=params,
            idempotency_key=f"{task.id}:{step}",
            priority=task.priority,
            metadata={"parent": task.id, "step": step},
        )
        # a key space no caller reaches; the parent's tenant owns the step, whose cost the parent's price covers
        child, _ = await service.submit(request, key_scope=CHILD_SCOPE, caller=Principal(task.tenant_id), billed=False)
        try:
            while not child.is_terminal:
                child = await service.get(child.id, wait=self._max_wait_s)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(service.cancel(child.id))
            raise
        if child.status != TaskStatus.succeeded or not (child.result or {}).get("assets"):
            raise _step_error(step, child)
        return child


def _record(step: str, child: Task) -> dict[str, Any]:
    return {"name": step, "task_id": child.id, "provider": child.provider, "assets": child.result["assets"]}  # type: ignore[index]


def _step_error(step: str, child: Task) -> GenPulseError:
    if child.error is None:
        return ExecutionError(f"{step} step {child.id} ended {child.status.value} without outputs")
    error = error_from_dict(child.error.model_dump())
    error.message = f"{step} step {child.id} ({child.provider}): {error.message}"
    error.retryable = False  # the step task already had its own retries
    return error
