"""How a vendor job ends, in-process against the vendor imitations (issue 12): failures the vendor ran are
final, garbled poll replies are retried in place, a lost lease leaves the vendor job alone, and a task
cancelled while its submit is in flight cancels the job that submit made."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genpulse.core.schemas import Task, TaskRequest, TaskStatus, new_id, now
from genpulse.wiring.in_process import LocalRuntime, build_local
from tests.harness import local_args
from tests.support.kling_runtime import VIDEO, Vendor, runtime, vendor
from tests.vendors.comfyui import T2I_WORKFLOW
from tests.vendors.harness import COMFYUI, DASHSCOPE, app_config


@pytest.fixture
def kling() -> Iterator[Vendor]:
    yield from vendor(queue_s=0.05, run_s=0.1)


async def submit(rt: LocalRuntime, provider: str, task_type: str, params: dict[str, Any]) -> Task:
    body = {"provider": provider, "task_type": task_type, "params": params}
    return (await rt.service.submit(TaskRequest.model_validate(body)))[0]


async def until(predicate: Any, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_job_the_vendor_ran_and_failed_is_not_resubmitted(tmp_path: Path, kling: Vendor) -> None:
    """Kling reports "Generation failed, please retry" (a server-error class): the vendor may have billed it."""
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05, workers={"max_attempts": 3})
    kling.state.outcomes.append("fail")
    done = await rt.service.get((await submit(rt, "kling", "text-to-video", VIDEO)).id, wait=30)
    assert done.status == TaskStatus.failed and done.attempts == 1, done
    assert done.error is not None and not done.error.retryable
    assert len(kling.state.jobs) == 1


async def test_garbled_poll_replies_are_retried_in_place(tmp_path: Path, kling: Vendor) -> None:
    rt = runtime(tmp_path, kling.url, poll_interval_s=0.05)
    for _ in range(2):  # two polls in a row answered with half a body
        kling.state.inject("truncated", path="/v1/videos/text2video/")
    done = await rt.service.get((await submit(rt, "kling", "text-to-video", VIDEO)).id, wait=30)
    assert done.status == TaskStatus.succeeded and done.attempts == 1, done.error
    assert len(kling.state.jobs) == 1 and not kling.state.faults


async def test_a_lost_lease_leaves_the_vendor_job_to_its_new_owner(tmp_path: Path) -> None:
    with DASHSCOPE.serve(queue_s=60, run_s=1) as (state, url):  # the job stays PENDING (cancellable)
        args = local_args(tmp_path, providers={"dashscope": app_config(DASHSCOPE, url)}, workers={"lease_ttl_s": 0.6})
        rt = build_local(args)
        store = rt.service.store
        task = await submit(rt, "dashscope", "text-to-image", {"prompt": "a flower shop"})

        async def has_job() -> bool:
            return (await store.get(task.id)).provider_task_id is not None

        await until(has_job)
        worker = rt.workers["dashscope"][0]
        taken = await store.get(task.id)
        await store.put(taken.model_copy(update={"owner": "another-worker"}))  # it took the task over

        async def let_go() -> bool:
            return task.id not in worker.in_flight()

        await until(let_go)
        job = state.jobs[DASHSCOPE.job_key(taken.provider_task_id or "")]
        assert not job.canceled  # the new owner polls it
        assert (await store.get(task.id)).owner == "another-worker"


async def test_a_task_cancelled_mid_submit_cancels_the_job_its_submit_made(tmp_path: Path) -> None:
    with COMFYUI.serve() as (state, url):
        state.held = True  # prompts stay queued: a cancel deletes them
        state.errors.append("slow")  # the next /prompt is answered (and queued) after 2 s
        rt = build_local(local_args(tmp_path, providers={"comfyui": app_config(COMFYUI, url)}))
        task = await submit(rt, "comfyui", "text-to-image", {"workflow": T2I_WORKFLOW})

        async def submitting() -> bool:
            return (await rt.service.store.get(task.id)).submit_pending

        await until(submitting)
        await rt.service.cancel(task.id)

        async def vendor_canceled() -> bool:
            return len(state.jobs) == 1 and all(j.canceled for j in state.jobs.values())

        await until(vendor_canceled)
        assert (await rt.service.store.get(task.id)).status == TaskStatus.canceled


async def test_a_task_canceled_while_its_worker_was_down_is_canceled_at_the_vendor(tmp_path: Path) -> None:
    """Its worker submitted the job and went down; a user cancels meanwhile. The worker, back (same name, no
    job in memory), gets the cancel and cancels the vendor job itself."""
    with DASHSCOPE.serve(queue_s=60, run_s=1) as (state, url):  # the job stays PENDING (cancellable)
        rt = build_local(local_args(tmp_path, providers={"dashscope": app_config(DASHSCOPE, url)}))
        worker = rt.workers["dashscope"][0]
        provider: Any = rt.wiring.registry.get("dashscope")
        params = provider.validate("text-to-image", {"prompt": "a flower shop"})
        async with httpx.AsyncClient() as client:
            made = await provider.submit(client, "text-to-image", params)  # what the worker did before it died
        created = now()
        task, _ = await rt.service.store.create(
            Task(
                id=new_id("tsk"),
                provider="dashscope",
                task_type="text-to-image",
                status=TaskStatus.running,
                params=params.model_dump(mode="json"),
                created_at=created,
                deadline_at=created + 600,
                attempts=1,
                owner=worker.name,
                lease_expires_at=created + 30,
                provider_task_id=made.job_id,
            )
        )
        assert task.id not in worker.in_flight()
        await rt.service.cancel(task.id)

        async def vendor_canceled() -> bool:
            return state.jobs[DASHSCOPE.job_key(made.job_id)].canceled

        await until(vendor_canceled)
