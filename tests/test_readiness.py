"""Readiness checks: a probe that disconnects mid-check leaves nothing behind in the log (no Ray)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

from genpulse.core.config import AppArgs
from genpulse.wiring.in_process import build_local


async def test_a_cancelled_probe_leaves_no_unretrieved_exception(tmp_path: Path) -> None:
    service = build_local(AppArgs.load({"storage": {"path": str(tmp_path)}})).service
    started = asyncio.Event()

    async def fails_when_cancelled() -> None:  # like gathering actor calls that error as they are torn down
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise RuntimeError("limiter call failed while cancelled") from None

    service.checks = {**service.checks, "limiters": fails_when_cancelled}
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    probe = asyncio.create_task(service.readiness())
    await started.wait()
    probe.cancel()
    await asyncio.gather(probe, return_exceptions=True)
    del probe  # its CancelledError's traceback holds the frames that hold the check's task
    for _ in range(5):  # let every cancelled task finish, then collect them
        await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0.01)
    loop.set_exception_handler(None)
    assert [c.get("message") for c in reported] == []


async def test_a_check_that_hangs_reports_a_timeout(tmp_path: Path) -> None:
    service = build_local(AppArgs.load({"storage": {"path": str(tmp_path)}})).service

    async def hangs() -> None:
        await asyncio.sleep(60)

    service.checks = {**service.checks, "slow": hangs}
    loop = asyncio.get_running_loop()
    started = loop.time()
    checks = await service.readiness()
    assert checks["slow"].startswith("TimeoutError") and checks["store"] == "ok"
    assert loop.time() - started < 30
