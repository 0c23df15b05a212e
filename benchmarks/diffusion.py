"""Scenario 4: images/s through GenPulse's HTTP API vs the same pipeline in a bare loop in one process.

Same model (the built-in tiny random-weight pipeline), same params, same thread count: one (GenPulse's default
``num_cpus=1`` for the DiffusionDeployment, for which Ray sets ``OMP_NUM_THREADS=1``; the bare loop calls
``torch.set_num_threads(1)``). On this shared 2-core box two torch threads were 30-45x *slower* per image
than one (OpenMP threads spinning against other load), so a two-thread comparison measures only noise. Served: N tasks
``POST /v1/tasks`` with ``Prefer: wait``, ``concurrency`` at a time, after a warm-up. Raw: ``DiffusionEngine``
(the class the replica wraps) called N times in a loop, after a warm-up, with GenPulse stopped.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import services
from benchmarks.pair import cpu_during, cpu_note, tree_breakdown
from benchmarks.report import Result

PARAMS: dict[str, Any] = {"prompt": "a red fox in snow", "width": 64, "height": 64, "num_inference_steps": 10}
CACHE = Path(os.environ.get("GENPULSE_BENCH_MODEL_CACHE", Path(tempfile.gettempdir()) / "gpb-models"))


def diffusion_config(cpus: int) -> dict[str, Any]:
    return {"model": "tiny", "cache_dir": str(CACHE), "device": "cpu", "num_cpus": cpus, "max_ongoing_requests": 8}


async def _served(
    url: str, n: int, concurrency: int, warmup: int, params: dict
) -> tuple[float, list[float], int, list[int]]:
    """(wall s, latencies, failed, batch_size of each succeeded task)."""
    body = {"provider": "diffusers", "task_type": "text-to-image", "params": {"seed": 1, **params}}
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    sizes: list[int] = []
    failed = 0
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:

        async def one(record: bool) -> None:
            nonlocal failed
            async with sem:
                t0 = time.perf_counter()
                r = await client.post("/v1/tasks", json=body, headers={"Prefer": "wait=60"})
                task = r.json()
                while task.get("status") not in ("succeeded", "failed", "canceled"):
                    task = (await client.get(f"/v1/tasks/{task['id']}", params={"wait": 60})).json()
                if record:
                    lat.append(time.perf_counter() - t0)
                    failed += task["status"] != "succeeded"
                    sizes.extend([task["result"]["batch_size"]] if task["status"] == "succeeded" else [])

        await asyncio.gather(*(one(False) for _ in range(warmup)))
        t0 = time.perf_counter()
        await asyncio.gather(*(one(True) for _ in range(n)))
        return time.perf_counter() - t0, lat, failed, sizes


def _raw(n: int, warmup: int, cpus: int, params: dict) -> tuple[float, list[float]]:
    import torch

    from genpulse.core.config import DiffusionConfig
    from genpulse.diffusion.engine import DiffusionEngine

    torch.set_num_threads(cpus)
    engine = DiffusionEngine(DiffusionConfig(**diffusion_config(cpus)))
    params = {**params, "seed": 1}
    for _ in range(warmup):
        engine.generate(params)
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        engine.generate(params)
        lat.append(time.perf_counter() - t)
    return time.perf_counter() - t0, lat


def diffusion(
    n: int = 40,
    sides: tuple[str, ...] = ("baseline", "genpulse"),
    concurrency: int = 4,
    size: int = 0,
    steps: int = 0,
    batching: int = 1,
    cold: int = 0,
    upscale_delay_s: float = 5,
    replica_warmup: int = 1,
) -> Result:
    """``size``/``steps`` override PARAMS (64 px, 10 steps): more work per image dilutes the per-task overhead.
    ``batching=1`` adds the batched / unbatched / two-model rows (``benchmarks.diffusion_batching``).
    ``cold=1`` measures the cold start instead: time to the first image from zero replicas next to one kept up
    (``benchmarks.diffusion_cold``; ``upscale_delay_s``, ``replica_warmup`` configure the deployment)."""
    if cold:
        from benchmarks.diffusion_cold import diffusion_cold

        return diffusion_cold(sides, upscale_delay_s=upscale_delay_s, warmup=replica_warmup)
    params = {
        **PARAMS,
        **({"width": size, "height": size} if size else {}),
        **({"num_inference_steps": steps} if steps else {}),
    }
    cpus = 1
    warmup = 2
    res = Result("diffusion", f"python -m benchmarks diffusion -n {n}",
                 {"images": n, **params, "served_concurrency": concurrency, "threads": cpus, "model": "tiny (CPU)"},
                 labels=("bare loop", "served (HTTP)"))  # fmt: skip
    served = raw = None
    if "genpulse" in sides:
        args = services.genpulse_args(None, tempfile.mkdtemp(prefix="gpb-data-"))
        args["providers"]["diffusers"] = {"enabled": True}
        args["diffusion"] = diffusion_config(cpus)
        print(f"[bench] served: {n} images", file=sys.stderr, flush=True)
        with services.genpulse(args, num_cpus=cpus) as api:
            before = tree_breakdown(api.pids["genpulse"])
            served = asyncio.run(_served(api.url, n, concurrency, warmup, params))
            during = cpu_during(before, tree_breakdown(api.pids["genpulse"]))
    if "baseline" in sides:
        print(f"[bench] bare loop: {n} images", file=sys.stderr, flush=True)
        raw = _raw(n, warmup, cpus, params)
    res.add("images/s", raw and round(n / raw[0], 3), served and round(n / served[0], 3), "served/raw >= 0.9")
    res.add("latency per image p50, ms", raw and _ms(statistics.median(raw[1])),
            served and _ms(statistics.median(served[1])), "(served includes queueing)")  # fmt: skip
    res.add("failed", 0 if raw else None, served and served[2], "0")
    res.raw = {"served_wall_s": served and served[0], "raw_wall_s": raw and raw[0]}
    if served is not None:
        res.raw["served_breakdown_run"] = during
        note = cpu_note("served", {"config": {"n": n + warmup}, "breakdown_run": during})
        res.notes.append(f"{note} (warm-up images included)")
    if batching:
        from benchmarks.diffusion_batching import batching as batching_rows

        print("[bench] batched / unbatched / two models", file=sys.stderr, flush=True)
        batching_rows(res, n, params, cpus, sides)
    res.notes.append("GPU half of scenario 4 (SD-1.5-shaped pipeline at 512x512 in fp16, batching gain at 8 "
                     "clients, time to first image after a cold start) not run: no GPU was available.")  # fmt: skip
    return res


def _ms(x: float) -> float:
    return round(x * 1000, 1)
