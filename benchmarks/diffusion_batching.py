"""Scenario 4, batching and multiplexing rows: images/s batched vs unbatched at 1/4/8 clients, and two models
interleaved, each served (HTTP, ``Prefer: wait``) next to the bare pipeline doing the same calls.

Served: a GenPulse deployment with ``max_batch_size`` 8 (batched) or 1 (unbatched); ``c`` clients each submit
images back to back. Bare: the same ``DiffusionEngine`` calls without HTTP, tasks or Ray: batched, ``c``
requests per ``generate_batch`` call (what a full batch is); unbatched, one request per call. Two models:
``tiny`` and ``tiny-b`` (the same weights under a second name, a second model in memory), requests alternating;
they cannot share a call, so the batched replica's calls carry half as many requests.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import Any

from benchmarks import services
from benchmarks.diffusion import CACHE, _served, diffusion_config
from benchmarks.report import Result

CLIENTS = (1, 4, 8)


def _config(max_batch: int, cpus: int) -> dict[str, Any]:
    tiny_b = str(CACHE / "tiny-v1")  # the built-in's directory under a second name: a second model in memory
    return {**diffusion_config(cpus), "max_batch_size": max_batch, "batch_wait_timeout_s": 0.01,
            "max_models_per_replica": 2, "models": {"tiny-b": tiny_b}}  # fmt: skip


def _bare(n: int, clients: int, max_batch: int, cpus: int, params: dict, models: tuple[str, ...]) -> float:
    import torch

    from genpulse.core.config import DiffusionConfig
    from genpulse.diffusion.engine import DiffusionEngine

    torch.set_num_threads(cpus)
    engine = DiffusionEngine(DiffusionConfig(**_config(max_batch, cpus)))
    per_call = min(clients, max_batch)
    requests = [{**params, "seed": i, "model": models[i % len(models)]} for i in range(n)]
    engine.generate_batch(requests[: 2 * len(models)])  # warm-up: load each model
    t0 = time.perf_counter()
    for at in range(0, n, per_call * len(models)):
        engine.generate_batch(requests[at : at + per_call * len(models)])  # groups by model: per_call a call
    return n / (time.perf_counter() - t0)


def _serve(url: str, n: int, clients: int, params: dict, models: tuple[str, ...]) -> tuple[float, int, float]:
    """(images/s, failed, mean batch_size) with ``clients`` at a time, alternating models."""
    out = []
    for i, model in enumerate(models):
        share = n // len(models) + (i < n % len(models))
        out.append(_served(url, share, max(1, clients // len(models)), 0, {**params, "model": model}))

    async def both() -> list[Any]:
        return await asyncio.gather(*out)

    t0 = time.perf_counter()
    results = asyncio.run(both())
    wall = time.perf_counter() - t0
    failed = sum(r[2] for r in results)
    sizes = [b for r in results for b in r[3]]
    return n / wall, failed, sum(sizes) / max(1, len(sizes))


def batching(res: Result, n: int, params: dict, cpus: int, sides: tuple[str, ...]) -> None:
    """Adds the batched / unbatched / two-model rows to ``res`` (bare loop | served)."""
    served: dict[tuple[str, int], tuple[float, int, float]] = {}
    if "genpulse" in sides:
        for label, max_batch in (("batched", 8), ("unbatched", 1)):
            args = services.genpulse_args(None, tempfile.mkdtemp(prefix="gpb-data-"))
            args["providers"]["diffusers"] = {"enabled": True}
            args["diffusion"] = _config(max_batch, cpus)
            with services.genpulse(args, num_cpus=cpus) as api:
                asyncio.run(_served(api.url, 4, 4, 0, params))  # warm-up
                for c in CLIENTS:
                    served[(label, c)] = _serve(api.url, n, c, params, ("tiny",))
                if label == "batched":
                    served[("two models", 8)] = _serve(api.url, n, 8, params, ("tiny", "tiny-b"))
    rows = [(label, c) for label in ("batched", "unbatched") for c in CLIENTS] + [("two models", 8)]
    for label, c in rows:
        max_batch = 1 if label == "unbatched" else 8
        models = ("tiny", "tiny-b") if label == "two models" else ("tiny",)
        bare = round(_bare(n, c, max_batch, cpus, params, models), 3) if "baseline" in sides else None
        s = served.get((label, c))
        name = f"images/s, {label}, {c} client{'s' if c > 1 else ''}"
        res.add(name, bare, s and round(s[0], 3), f"mean batch_size {s[2]:.1f}, failed {s[1]}" if s else "")
    res.notes.append(
        "Batching rows: the bare unbatched loop is the same loop at each client count, so the spread "
        "of its three figures is this shared machine's noise; compare rows within one run only."
    )
