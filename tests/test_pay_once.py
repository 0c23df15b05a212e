"""Never pay twice, against the shared Kling-shaped fake vendor in its own process (``../shared/bench``).

The fake creates a job before it answers; ``--ambiguous-fraction`` answers a created job with a bare 504,
``--submit-delay`` holds the answer back, and ``/__stats`` counts submits and repeated ``external_task_id``s.
Each case loses the submit's answer a different way (a proxy's 504, a worker that died mid-submit, a store
that refused the checkpoint) and checks that the vendor got exactly one submit per task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.env import VENDOR_AK, VENDOR_SK
from benchmarks.services import fake_vendor
from genpulse.core.config import AppArgs
from genpulse.core.errors import ServiceUnavailable
from genpulse.core.schemas import Task, TaskRequest, TaskStatus, new_id, now
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.redis_store import RedisTaskStore
from genpulse.wiring.in_process import LocalRuntime, build_local

VIDEO = {"prompt": "a fox", "duration": 5}


@pytest.fixture
def vendor_factory() -> Iterator[Any]:
    stack: list[Any] = []

    def start(**flags: Any) -> str:
        ctx = fake_vendor(duration="0.5", **flags)
        stack.append(ctx)
        return ctx.__enter__().url

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def runtime(tmp_path: Path, url: str, *, store: Any = None, **kling: Any) -> LocalRuntime:
    args = AppArgs.load(
        {
            "storage": {"path": str(tmp_path / "data")},
            "workers": {"backoff_base_s": 0.05, "backoff_max_s": 0.5, "queued_grace_s": 0, "lease_ttl_s": 30},
            "providers": {
                "kling": {"base_url": url, "access_key": VENDOR_AK, "secret_key": VENDOR_SK, "poll_interval_s": 0.1}
                | kling
            },
        }
    )
    return build_local(args, store=store)


async def wait_until(predicate: Any, what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/__stats", timeout=10).json()


async def submit(rt: LocalRuntime) -> Task:
    body = {"provider": "kling", "task_type": "text-to-video", "params": VIDEO}
    return (await rt.service.submit(TaskRequest.model_validate(body)))[0]


async def test_every_submit_answered_504_is_found_not_sent_again(tmp_path: Path, vendor_factory: Any) -> None:
    url = vendor_factory(ambiguous_fraction="1.0")
    rt = runtime(tmp_path, url)
    tasks = [await submit(rt) for _ in range(3)]
    done = [await rt.service.get(t.id, wait=60) for t in tasks]
    assert all(t.status == TaskStatus.succeeded for t in done), [t.error for t in done]
    counts = stats(url)
    assert counts["ambiguous_504"] == 3 and counts["submits"] == 3, counts
    assert counts["duplicate_external_ids"] == 0
    assert all(t.attempts == 1 and t.provider_task_id for t in done)


async def test_a_worker_that_died_mid_submit_is_reconciled_not_resubmitted(tmp_path: Path, vendor_factory: Any) -> None:
    """The task says "submit in flight" and has no job id; the vendor has the job under our task id."""
    url = vendor_factory()
    rt = runtime(tmp_path, url)
    created = now()
    task_id = new_id("tsk")
    dead = Task(
        id=task_id,
        provider="kling",
        task_type="text-to-video",
        status=TaskStatus.running,
        params=VIDEO,
        created_at=created,
        deadline_at=created + 120,
        attempts=1,
        owner=rt.workers["kling"][0].name,  # it died and was restarted: its tasks are adopted at once
        lease_expires_at=created + 30,
        submit_pending=True,
    )
    await rt.service.store.create(dead)
    jwt = rt.wiring.registry.get("kling")._headers()  # type: ignore[attr-defined]
    made = httpx.post(
        f"{url}/v1/videos/text2video", json={**VIDEO, "duration": "5", "external_task_id": task_id}, headers=jwt
    ).json()
    assert made["code"] == 0
    assert await rt.workers["kling"][0].reconcile() == 1
    done = await rt.service.get(task_id, wait=60)
    assert done.status == TaskStatus.succeeded, done.error
    assert done.provider_task_id == made["data"]["task_id"] and not done.submit_pending
    counts = stats(url)
    assert counts["submits"] == 1 and counts["duplicate_external_ids"] == 0, counts


async def test_an_earlier_runs_submit_that_lands_late_is_found_not_sent_again(
    tmp_path: Path, vendor_factory: Any
) -> None:
    """The earlier run of the worker may still be dying with its submit on the way (a killed Ray actor is not
    gone at once): "no job yet" right after the mark is not trusted until that submit must have landed."""
    url = vendor_factory()
    rt = runtime(tmp_path, url, timeout_s=1.0)  # a submit lands within 3 x 1 s of its mark, or never
    created = now()
    task_id = new_id("tsk")
    dying = Task(
        id=task_id, provider="kling", task_type="text-to-video", status=TaskStatus.running, params=VIDEO,
        created_at=created, deadline_at=created + 120, attempts=1, lease_expires_at=created + 30,
        owner=rt.workers["kling"][0].name + "#earlier-run", submit_pending=True, submit_pending_at=now(),
    )  # fmt: skip
    await rt.service.store.create(dying)
    jwt = rt.wiring.registry.get("kling")._headers()  # type: ignore[attr-defined]

    async def late_submit() -> dict[str, Any]:  # the earlier run's request, arriving after the new run asked
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient() as client:
            body = {**VIDEO, "duration": "5", "external_task_id": task_id}
            return (await client.post(f"{url}/v1/videos/text2video", json=body, headers=jwt)).json()

    landing = asyncio.create_task(late_submit())
    assert await rt.workers["kling"][0].reconcile() == 1  # an earlier run of this worker: adopted at once
    made = await landing
    done = await rt.service.get(task_id, wait=60)
    assert done.status == TaskStatus.succeeded, done.error
    assert done.provider_task_id == made["data"]["task_id"] and done.owner is None
    counts = stats(url)
    assert counts["submits"] == 1 and counts["duplicate_external_ids"] == 0, counts


class RefusesTheFailedWrite(MemoryTaskStore):
    """A store that refuses one write: the one that would make a task failed (the worker "dies" right there)."""

    refused = 0

    async def put(self, task: Task) -> Task:
        if task.status == TaskStatus.failed and not self.refused:
            self.refused += 1
            raise ServiceUnavailable("store down at the worst moment")
        return await super().put(task)


async def test_a_vendor_failure_interrupted_before_it_is_written_is_not_submitted_again(
    tmp_path: Path, vendor_factory: Any
) -> None:
    """The vendor ran the job and it failed; the worker died before writing "failed". The restarted worker must
    poll that job again (and fail the task), never take the task for one that was never submitted."""
    url = vendor_factory(fail_fraction="1.0")
    store = RefusesTheFailedWrite()
    first = runtime(tmp_path / "a", url, store=store)
    task = await submit(first)
    await wait_until(lambda: store.refused == 1, "the failed write to be refused")
    await first.workers["kling"][0].join()
    again = runtime(tmp_path / "b", url, store=store)  # the worker restarted: same name, a new run
    assert await again.workers["kling"][0].reconcile() == 1
    done = await again.service.get(task.id, wait=30)
    assert stats(url)["submits"] == 1, stats(url)
    assert done.status == TaskStatus.failed and done.error is not None and "failed" in done.error.message
    assert done.provider_task_id is not None  # the job that failed stays on the task


async def test_a_dead_mid_submit_task_of_a_vendor_that_cannot_look_up_fails_unknown(tmp_path: Path) -> None:
    """OpenAI images cannot be looked up by our id: such a task fails clearly instead of paying twice."""
    args = AppArgs.load(
        {
            "storage": {"path": str(tmp_path / "data")},
            "workers": {"queued_grace_s": 0},
            "providers": {"openai": {"base_url": "http://127.0.0.1:9", "api_key": "sk-test"}},
        }
    )
    rt = build_local(args)
    created = now()
    dead = Task(
        id=new_id("tsk"),
        provider="openai",
        task_type="text-to-image",
        status=TaskStatus.running,
        params={"prompt": "a fox"},
        created_at=created,
        deadline_at=created + 60,
        attempts=1,
        owner=rt.workers["openai"][0].name,  # it died and was restarted
        lease_expires_at=created + 30,
        submit_pending=True,
    )
    await rt.service.store.create(dead)
    await rt.workers["openai"][0].reconcile()
    done = await rt.service.get(dead.id, wait=30)
    assert done.status == TaskStatus.failed and done.error is not None
    assert done.error.type == "submit_outcome_unknown" and not done.error.retryable
    assert f"/v1/tasks/{dead.id}/retry" in done.error.message


async def test_a_store_that_refuses_the_checkpoint_does_not_cause_a_second_submit(
    tmp_path: Path, vendor_factory: Any, redis_proc: Any
) -> None:
    """Redis turns read-only (a failover) while the vendor holds the submit's answer; writes come back later."""
    import redis as redis_sync

    url = vendor_factory(submit_delay="1.5")
    store = RedisTaskStore(f"redis://127.0.0.1:{redis_proc.port}/0")
    rt = runtime(tmp_path, url, store=store)
    admin = redis_sync.Redis(port=redis_proc.port)
    task = await submit(rt)
    for _ in range(200):  # the job exists at the vendor; its answer is held back
        if stats(url)["submits"] == 1:
            break
        await asyncio.sleep(0.02)
    admin.execute_command("REPLICAOF", "127.0.0.1", "9")  # writes now fail with READONLY
    await asyncio.sleep(2.5)  # the answer arrives and the checkpoint is refused, more than once
    admin.execute_command("REPLICAOF", "NO", "ONE")
    done = await rt.service.get(task.id, wait=60)
    assert done.status == TaskStatus.succeeded, done.error
    counts = stats(url)
    assert counts["submits"] == 1 and counts["duplicate_external_ids"] == 0, counts
    await store.close()


async def test_a_read_only_store_is_503_not_500(tmp_path: Path, redis_proc: Any) -> None:
    import redis as redis_sync

    from tests.harness import local_args, running_app

    store = RedisTaskStore(f"redis://127.0.0.1:{redis_proc.port}/0")
    admin = redis_sync.Redis(port=redis_proc.port)
    admin.execute_command("REPLICAOF", "127.0.0.1", "9")
    body = {"provider": "diffusers", "task_type": "text-to-image", "params": {"prompt": "x", "width": 64}}
    with running_app(local_args(tmp_path), store=store) as app, httpx.Client(base_url=app.url, timeout=30) as client:
        refused = client.post("/v1/tasks", json=body)
        assert refused.status_code == 503 and refused.headers["retry-after"], refused.text
        assert refused.json()["error"]["type"] == "service_unavailable"
        admin.execute_command("CONFIG", "SET", "maxmemory", "1")
        admin.execute_command("REPLICAOF", "NO", "ONE")
        full = client.post("/v1/tasks", json=body)
        assert full.status_code == 503 and "redis" in full.json()["error"]["message"], full.text
