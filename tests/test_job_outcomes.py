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
from genpulse.tasks import mutate
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
        task, job_id = await owned_running_task(rt, worker.name)  # what the worker did before it died
        assert task.id not in worker.in_flight()
        await rt.service.cancel(task.id)

        async def vendor_canceled() -> bool:
            return state.jobs[DASHSCOPE.job_key(job_id)].canceled

        await until(vendor_canceled)


def dashscope_runtime(tmp_path: Path, url: str, **workers: Any) -> LocalRuntime:
    overrides = {"cancel_sweep_s": 0.01} | workers  # every reconcile sweeps: the test drives reconcile itself
    return build_local(local_args(tmp_path, providers={"dashscope": app_config(DASHSCOPE, url)}, workers=overrides))


async def owned_running_task(rt: LocalRuntime, owner: str) -> tuple[Task, str]:
    """A running task whose (earlier) owner submitted a DashScope job: what a worker that went down leaves."""
    provider: Any = rt.wiring.registry.get("dashscope")
    params = provider.validate("text-to-image", {"prompt": "a flower shop"})
    async with httpx.AsyncClient() as client:
        made = await provider.submit(client, "text-to-image", params)
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
            owner=owner,
            lease_expires_at=created + 30,
            provider_task_id=made.job_id,
        )
    )
    return task, made.job_id


async def cancel_unheard(rt: LocalRuntime, task_id: str) -> Task:
    """The user's cancel as the API writes it (jobs/service.py: the owner stays on the record), its notification
    lost because the owning worker was down."""

    def to_canceled(t: Task) -> Task:
        t.status, t.finished_at, t.lease_expires_at = TaskStatus.canceled, now(), None
        return t

    written = await mutate(rt.service.store, task_id, to_canceled)
    assert written is not None and written.owner is not None
    return written


async def test_a_cancel_made_while_the_worker_was_down_reaches_the_vendor_when_it_is_back(tmp_path: Path) -> None:
    """Issue 12 item 6, third window: the cancel was written while the owner was down, and nobody told it."""
    with DASHSCOPE.serve(queue_s=60, run_s=1) as (state, url):  # the job stays PENDING (cancellable)
        rt = dashscope_runtime(tmp_path, url)
        worker = rt.workers["dashscope"][0]
        task, job_id = await owned_running_task(rt, f"{worker.name}#earlier-run")
        await cancel_unheard(rt, task.id)
        await worker.reconcile()  # the worker is back: its first reconcile sweeps
        assert state.jobs[DASHSCOPE.job_key(job_id)].canceled
        released = await rt.service.store.get(task.id)
        assert released.owner is None and released.status == TaskStatus.canceled  # no longer owed
        state.inject("html", path="/api/v1/tasks/")  # taken by the next call about a job, were one sent
        await worker.reconcile()
        assert len(state.faults) == 1  # nothing owed: the next sweep sends nothing


async def test_a_cancel_owed_by_a_worker_that_never_comes_back_is_carried_out_by_another(tmp_path: Path) -> None:
    with DASHSCOPE.serve(queue_s=60, run_s=1) as (state, url):
        rt = dashscope_runtime(tmp_path, url, lease_ttl_s=0.3)
        worker = rt.workers["dashscope"][0]
        task, job_id = await owned_running_task(rt, "worker-dashscope-7#gone")  # a pool shrunk by a redeploy
        await cancel_unheard(rt, task.id)
        await worker.reconcile()  # first seen: its owner may still be cancelling it
        assert not state.jobs[DASHSCOPE.job_key(job_id)].canceled

        async def carried_out() -> bool:
            await worker.reconcile()
            return state.jobs[DASHSCOPE.job_key(job_id)].canceled

        await until(carried_out)
        assert (await rt.service.store.get(task.id)).owner is None


async def test_a_vendor_cancel_without_a_sure_answer_stays_owed_and_is_tried_again(tmp_path: Path) -> None:
    with DASHSCOPE.serve(queue_s=60, run_s=1) as (state, url):
        rt = dashscope_runtime(tmp_path, url)
        store, worker = rt.service.store, rt.workers["dashscope"][0]
        task = await submit(rt, "dashscope", "text-to-image", {"prompt": "a flower shop"})

        async def has_job() -> bool:
            return (await store.get(task.id)).provider_task_id is not None

        await until(has_job)
        job = state.jobs[DASHSCOPE.job_key((await store.get(task.id)).provider_task_id or "")]
        state.errors.extend(["InternalError"] * 3)  # the cancel (and a poll, if one slips in) get a 500
        await rt.service.cancel(task.id)

        async def let_go() -> bool:
            return task.id not in worker.in_flight()

        await until(let_go)
        assert not job.canceled and (await store.get(task.id)).owner is not None  # owed, not forgotten

        async def carried_out() -> bool:
            await worker.reconcile()
            return job.canceled

        await until(carried_out)

        async def released() -> bool:
            return (await store.get(task.id)).owner is None

        await until(released)


async def test_a_cancel_heard_by_the_live_worker_releases_the_record(tmp_path: Path) -> None:
    with DASHSCOPE.serve(queue_s=60, run_s=1) as (state, url):
        rt = dashscope_runtime(tmp_path, url)
        store = rt.service.store
        task = await submit(rt, "dashscope", "text-to-image", {"prompt": "a flower shop"})

        async def has_job() -> bool:
            return (await store.get(task.id)).provider_task_id is not None

        await until(has_job)
        job = state.jobs[DASHSCOPE.job_key((await store.get(task.id)).provider_task_id or "")]
        await rt.service.cancel(task.id)

        async def released() -> bool:
            return job.canceled and (await store.get(task.id)).owner is None

        await until(released)
