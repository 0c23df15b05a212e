"""The SSE generator on its own (no HTTP): resuming past a trimmed history, and ending at a terminal state."""

from __future__ import annotations

import json

from genpulse.core.schemas import Task, TaskStatus, new_id, now
from genpulse.tasks.memory_store import MemoryTaskStore
from genpulse.tasks.sse import task_events


async def test_resume_past_trimmed_history_then_end() -> None:
    store = MemoryTaskStore(event_history=8)
    task, _ = await store.create(
        Task(id=new_id("tsk"), provider="p", task_type="t", status=TaskStatus.queued, params={}, created_at=now())
    )
    task = await store.put(task.model_copy(update={"status": TaskStatus.running}))
    for pct in range(1, 20):
        task = await store.put(task.model_copy(update={"progress": float(pct)}))
    task = await store.put(task.model_copy(update={"owner": "renewed"}))  # no status/progress change: not sent
    done = await store.put(task.model_copy(update={"status": TaskStatus.failed}))
    frames = [f.decode() async for f in task_events(store, task.id, after=1, heartbeat_s=0.05)]
    assert frames[0] == "retry: 2000\n\n" and not any(f.startswith(":") for f in frames)
    events = [json.loads(f.split("data: ", 1)[1]) for f in frames[1:]]
    # the renewal (v22) recorded no event, so the 8 kept are v15..v21 and v23
    assert [e["seq"] for e in events] == [*range(done.version - 8, done.version - 1), done.version]
    assert events[0]["progress"] == 13.0 and events[-1]["status"] == "failed"
    assert "event: status" in frames[1] and "event: progress" in frames[2] and "event: status" in frames[-1]
    assert events[-1]["task"]["status"] == "failed"
