"""The GenPulse Python SDK: ``GenPulse`` (sync) and ``AsyncGenPulse`` (asyncio), both over httpx.

    from genpulse.client import GenPulse

    with GenPulse("http://127.0.0.1:8000") as gp:
        task = gp.run("diffusers", "text-to-image", {"prompt": "a red fox", "width": 256, "height": 256})
        png = gp.download(task.result["assets"][0]["id"])

Server errors are raised as the server's own error tree (``genpulse.core.errors``: ``InvalidRequest``, ``NotFound``,
``Conflict``, ...); an unreachable server or a 502/503/504 after the retries is ``ServiceUnavailable``; a wait
that runs out of time is the builtin ``TimeoutError``. ``submit`` always sends an ``Idempotency-Key`` (generated
when not given) and retries with the same key, so a retried submit never creates two tasks.
"""

from genpulse.client._common import StreamEvent, TaskFailed
from genpulse.client.aio import AsyncGenPulse
from genpulse.client.sync import GenPulse
from genpulse.core.schemas import Asset, TaskPage, TaskPublic, TaskStatus

__all__ = ["Asset", "AsyncGenPulse", "GenPulse", "StreamEvent", "TaskFailed", "TaskPage", "TaskPublic", "TaskStatus"]
