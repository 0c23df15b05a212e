"""Scenario 4, cold start: time to the first image when the DiffusionDeployment has zero replicas (autoscaling
``min_replicas: 0``), next to the same first request on a deployment that keeps one replica up (``min_replicas: 1``).

``python -m benchmarks diffusion --opt cold=1 --tag cpu`` (CPU, the tiny model, 64x64, 10 steps). Each column is
one fresh deploy on one shared Ray host (``services.shared_genpulse``): the first task is submitted once the app is
RUNNING, and its time is split with the task's own events (``GET /v1/tasks/{id}/events``): waiting for a replica
(until the model load shows in the task's progress, 5), loading the model (5 -> 10), generating and storing
(10 -> succeeded). With warm-up on (the default) a new replica loads its default model before it takes requests,
so the task never sees the load and only the total is known. ``--opt upscale_delay_s=5`` (the example in
docs/diffusion.md) and ``--opt replica_warmup=0|1`` configure the deployment.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import httpx

from benchmarks import services
from benchmarks.diffusion import PARAMS, diffusion_config
from benchmarks.report import Result

LOADING, LOADED = 5.0, 10.0  # genpulse.diffusion.diffusion_runner's progress values


def _first_image(url: str) -> dict[str, float | None]:
    """Submit one task to a fresh deploy; its wall time and phases (s) from its events."""
    body = {"provider": "diffusers", "task_type": "text-to-image", "params": {**PARAMS, "seed": 1}}
    with httpx.Client(base_url=url, timeout=600) as client:
        t0 = time.time()
        task = client.post("/v1/tasks", json=body).json()
        while task.get("status") not in ("succeeded", "failed", "canceled"):
            task = client.get(f"/v1/tasks/{task['id']}", params={"wait": 60}).json()
        wall = time.time() - t0
        if task["status"] != "succeeded":
            raise RuntimeError(f"the first task did not succeed: {task}")
        at: dict[float, float] = {}
        with client.stream("GET", f"/v1/tasks/{task['id']}/events") as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line.removeprefix("data:"))
                    if event.get("progress") is not None:
                        at.setdefault(float(event["progress"]), float(event["at"]))
    created, finished = float(task["created_at"]), float(task["finished_at"])
    loading, loaded = at.get(LOADING), at.get(LOADED)
    if loading is None or loaded is None:  # no load seen (the replica's warm-up did it): no split
        return {"wall": wall, "waiting": None, "loading": None, "generating": None}
    return {"wall": wall, "waiting": loading - created, "loading": loaded - loading, "generating": finished - loaded}


def diffusion_cold(
    sides: tuple[str, ...] = ("baseline", "genpulse"), upscale_delay_s: float = 5, warmup: int = 1
) -> Result:
    """``sides``: baseline = a warm deployment (``min_replicas: 1``), genpulse = scale from zero. ``warmup=0``
    turns the replica's warm-up off (the task then shows the model's load in its progress). One first image per
    column."""
    cpus = 1
    res = Result(
        "diffusion-cold",
        f"python -m benchmarks diffusion --opt cold=1 --opt upscale_delay_s={upscale_delay_s} "
        f"--opt replica_warmup={warmup}",
        {**PARAMS, "model": "tiny (CPU)", "threads": cpus, "upscale_delay_s": upscale_delay_s, "warmup": bool(warmup)},
        labels=("min_replicas 1 (warm)", "min_replicas 0 (from zero)"),
    )
    runs: dict[str, dict[str, float | None]] = {}
    with services.shared_genpulse():
        for side, min_replicas in (("baseline", 1), ("genpulse", 0)):
            if side not in sides:
                continue
            args = services.genpulse_args(None, tempfile.mkdtemp(prefix="gpb-data-"))
            args["providers"]["diffusers"] = {"enabled": True}
            autoscaling = {"min_replicas": min_replicas, "max_replicas": 1, "target_ongoing_requests": 1,
                           "upscale_delay_s": upscale_delay_s, "downscale_delay_s": 600}  # fmt: skip
            args["diffusion"] = {**diffusion_config(cpus), "warmup": bool(warmup), "autoscaling": autoscaling}
            print(f"[bench] first image, min_replicas {min_replicas}", file=sys.stderr, flush=True)
            with services.genpulse(args, num_cpus=2) as api:
                runs[side] = _first_image(api.url)

    def cell(side: str, key: str) -> float | None:
        value = runs.get(side, {}).get(key)
        return None if value is None else round(value, 2)

    res.add("first image, s (submit -> succeeded)", cell("baseline", "wall"), cell("genpulse", "wall"))
    res.add("of which waiting for a replica, s", cell("baseline", "waiting"), cell("genpulse", "waiting"))
    res.add("of which loading the model, s", cell("baseline", "loading"), cell("genpulse", "loading"))
    res.add("of which generating + storing, s", cell("baseline", "generating"), cell("genpulse", "generating"))
    res.raw = {"runs": runs}
    res.notes.append(
        "phases from the task's events (warm-up off only: with it on the replica loads the model before it "
        "takes requests, and the task sees no load): waiting = created -> progress 5 (its model's load began), "
        "loading = 5 -> 10, generating = 10 -> succeeded"
    )
    return res
