"""Reads of ended tasks, with the ingress's cache of ended tasks on and off (GenPulse only, one run).

``python -m benchmarks reads [-n 20] [--opt clients=8] [--opt seconds=10]``: GenPulse on a private Ray with Kling
pointed at the fake vendor (jobs end at once); ``n`` tasks are submitted and waited for, then ``clients``
closed-loop clients ``GET /v1/tasks/{id}`` of those ended tasks for ``seconds``. Twice: with
``server.terminal_cache_size`` 0 (every read goes to the store actor) and with the default. Reports answers per
second, latency and the CPU ms per read of each process (ingress replica, store actor, proxy). ``--serve-env K=V``
reaches GenPulse's Ray processes in both runs.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from typing import Any

import aiohttp

from benchmarks import services
from benchmarks.pair import cpu_during, tree_breakdown
from benchmarks.report import Result


async def _reads(url: str, n: int, clients: int, seconds: float) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        ids = []
        body = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "a fox", "duration": 5}}
        for _ in range(n):
            async with http.post(f"{url}/v1/tasks", json=body, headers={"Prefer": "wait=30"}) as r:
                ids.append((await r.json())["id"])
        for task_id in ids:  # every one ended before the reads start
            async with http.get(f"{url}/v1/tasks/{task_id}?wait=30") as r:
                assert (await r.json())["status"] == "succeeded"
        latencies: list[float] = []
        errors = 0
        stop_at = time.monotonic() + seconds

        async def client() -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                started = time.monotonic()
                async with http.get(f"{url}/v1/tasks/{random.choice(ids)}") as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.monotonic() - started)

        await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()
    return {
        "reads": len(latencies),
        "reads_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1),
        "errors": errors,
    }


def _side(
    vendor_url: str, cache: int, n: int, clients: int, seconds: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    args = services.genpulse_args(vendor_url, tempfile.mkdtemp(prefix="gpb-data-"), rps=1000)
    args["server"] = {"terminal_cache_size": cache}
    print(f"[bench] reads: terminal_cache_size={cache}", file=sys.stderr, flush=True)
    with services.genpulse(args, env_extra=env) as api:
        out: dict[str, Any] = {}
        before = tree_breakdown(api.pids["genpulse"])
        out = asyncio.run(_reads(api.url, n, clients, seconds))
        during = cpu_during(before, tree_breakdown(api.pids["genpulse"]))
    out["cpu_ms_per_read"] = {
        k: round(1000 * v["cpu_s"] / out["reads"], 3) for k, v in during.items() if v["cpu_s"] > 0 and out["reads"]
    }
    return out


def reads(
    n: int = 20, sides: tuple[str, ...] = (), clients: int = 8, seconds: float = 10.0, env: dict[str, str] | None = None
) -> Result:
    with services.fake_vendor(duration="0", qps=0) as vendor:
        off = _side(vendor.url, 0, n, clients, seconds, env)
        on = _side(vendor.url, 1024, n, clients, seconds, env)
    res = Result(
        "reads",
        f"python -m benchmarks reads -n {n}",
        {"ended_tasks": n, "clients": clients, "seconds": seconds},
        raw={"cache_off": off, "cache_on": on},
        labels=("cache off", "cache on"),
    )
    res.add("GET of an ended task: answers/s", off["reads_per_s"], on["reads_per_s"])
    res.add("latency p50, ms", off["p50_ms"], on["p50_ms"])
    res.add("latency p99, ms", off["p99_ms"], on["p99_ms"])
    res.add("errors", off["errors"], on["errors"], "0")
    procs = sorted({*off["cpu_ms_per_read"], *on["cpu_ms_per_read"]})
    for name in procs:
        res.add(f"CPU ms per read: {name}", off["cpu_ms_per_read"].get(name), on["cpu_ms_per_read"].get(name))
    return res
