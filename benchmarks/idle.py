"""Idle memory of a zero-config gateway: every process of the GenPulse tree, by title, once it has settled.

``python -m benchmarks idle [--opt repo=PATH] [--opt settle_s=20]``: GenPulse with no configuration but its data
directory (as ``genpulse serve`` without a config file: the built-in diffusion model, no vendor credentials) on a
private Ray; after ``settle_s`` it records each process's RSS and PSS and the count of GenPulse actors.
``repo`` runs another checkout's code (a worktree of an earlier commit) for the "before" figure; the table puts
that run next to this checkout's when both are asked for (``--side both`` with ``repo``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import services
from benchmarks.env import REPO
from benchmarks.pair import tree_breakdown
from benchmarks.report import Result


def _measure(repo: Path, settle_s: float) -> dict[str, Any]:
    args = {"namespace": "genpulse-idle", "storage": {"path": tempfile.mkdtemp(prefix="gpb-data-")}}
    print(f"[bench] idle: {repo}", file=sys.stderr, flush=True)
    with services.genpulse(args, repo=repo) as api:
        time.sleep(settle_s)
        procs = tree_breakdown(api.pids["genpulse"])
    return {
        "processes": procs,
        "rss_mb": round(sum(p["rss_mb"] for p in procs.values()), 1),
        "pss_mb": round(sum(p["pss_mb"] for p in procs.values()), 1),
        "worker_actors": sum(int(p["count"]) for k, p in procs.items() if "ProviderWorker" in k),
        "limiter_actors": sum(int(p["count"]) for k, p in procs.items() if "RateLimiterActor" in k),
    }


def idle(
    sides: tuple[str, ...] = ("genpulse",),
    repo: str = "",
    settle_s: float = 20.0,
    n: int = 0,
    measured: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = None,
) -> Result:
    """``measured``: (before, after) from an earlier run's JSON, to rebuild its table without running again."""
    if measured is not None:
        before, after = measured
    else:
        before = _measure(Path(repo), settle_s) if repo and "baseline" in sides else None
        after = _measure(REPO, settle_s) if "genpulse" in sides else None
    res = Result(
        "idle",
        "python -m benchmarks idle" + (f" --opt repo={repo}" if repo else ""),
        {"settle_s": settle_s, "config": "zero-config (diffusion on, no vendor credentials)"},
        raw={"before": before, "after": after},
        labels=("before (" + (Path(repo).name if repo else "n/a") + ")", "this checkout"),
    )
    for key, label in (
        ("rss_mb", "RSS of every process, MB"),
        ("pss_mb", "PSS of every process, MB"),
        ("worker_actors", "ProviderWorker actors"),
        ("limiter_actors", "RateLimiter actors"),
    ):
        res.add(label, before and before[key], after and after[key])
    names = sorted({*(before or {}).get("processes", {}), *(after or {}).get("processes", {})})
    for name in names:
        b = (before or {}).get("processes", {}).get(name)
        a = (after or {}).get("processes", {}).get(name)
        counts = " / ".join(f"x{int(side['count'])}" if side else "-" for side in (b, a))
        res.add(f"RSS MB: {name} ({counts})", b and b["rss_mb"], a and a["rss_mb"])
    return res
