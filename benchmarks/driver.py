"""The load driver: ``BENCH_DIR/load.py`` imported as is, plus an adapter for GenPulse's v1 API.

Both gateways are driven by the same code in the same process, so the driver's own cost is the same on both
sides. GenPulse answers ``POST /v1/tasks`` → 202 ``{id, status}`` and ``GET /v1/tasks/{id}`` with status
``queued|running|succeeded|failed|canceled`` and Unix-second ``created_at`` / ``finished_at``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from functools import cache
from types import ModuleType
from typing import Any

from benchmarks.env import BENCH_DIR


@cache
def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_load", BENCH_DIR / "load.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{BENCH_DIR / 'load.py'} not found (set GENPULSE_BENCH_DIR)")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module
    spec.loader.exec_module(module)

    class GenPulseV1(module.Adapter):  # type: ignore[name-defined,misc]
        """GenPulse v1: the same JSON as load.py's sketch, but timestamps are Unix seconds (floats)."""

        name = "genpulse-v1"

        def submit_request(self, i: int, a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
            params = {"prompt": f"{a.prompt} #{i}", "duration": int(a.video_duration), "model_name": a.model}
            return "/v1/tasks", {"provider": "kling", "task_type": "text-to-video", "params": params}

        def task_id(self, body: dict[str, Any]) -> str:
            return body["id"]

        def status_path(self, task_id: str) -> str:
            return "/v1/tasks/" + task_id

        def state(self, body: dict[str, Any]) -> str:
            s = body["status"]
            return s if s in ("succeeded", "failed") else ("failed" if s == "canceled" else "running")

        def server_e2e(self, body: dict[str, Any]) -> float | None:
            if body.get("finished_at") is None:
                return None
            return float(body["finished_at"]) - float(body["created_at"])

    module.ADAPTERS[GenPulseV1.name] = GenPulseV1
    return module


ADAPTER = {"baseline": "celery_ref", "genpulse": "genpulse-v1"}


def drive(
    side: str,
    api: str,
    vendor: str,
    n: int,
    *,
    concurrency: int = 200,
    poll_interval: float = 2.0,
    timeout: float = 600,
    pids: dict[str, int] | None = None,
    pids_file: str | None = None,
) -> dict[str, Any]:
    """Run load.py's ``run`` against one gateway; returns its JSON report."""
    load = load_module()
    a = argparse.Namespace(
        api=api,
        adapter=ADAPTER[side],
        n=n,
        concurrency=concurrency,
        rate=0.0,
        poll_interval=poll_interval,
        timeout=timeout,
        request_timeout=60.0,
        max_connections=200,
        vendor=vendor,
        reset_vendor=True,
        pids_file=[pids_file] if pids_file else [],
        pid=[f"{k}={v}" for k, v in (pids or {}).items()],
        model="kling-v1",
        prompt="a red fox running through snow, cinematic",
        video_duration="5",
        out=None,
    )
    try:
        import uvloop

        return uvloop.run(load.run(a))
    except ImportError:
        return asyncio.run(load.run(a))
