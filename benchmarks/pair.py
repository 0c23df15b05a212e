"""Run one vendor workload against the baseline and GenPulse in turn, with the same fake vendor and driver.

The two sides never overlap (the machine has two cores): vendor up → baseline up → load → baseline down →
GenPulse up → the same load → GenPulse down → vendor down. The vendor's counters are reset before each side.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from benchmarks import services
from benchmarks.driver import drive


@dataclass
class Workload:
    n: int
    vendor: dict[str, Any]  # fakevendor.py flags
    baseline: dict[str, Any]  # celery_ref CR_* settings (lower case, no prefix)
    kling: dict[str, Any]  # GenPulse providers.kling settings
    drive: dict[str, Any] = field(default_factory=dict)  # driver options (concurrency, poll_interval, timeout)
    genpulse: dict[str, Any] = field(default_factory=dict)  # extra top-level build_app args
    store: str = "actor"  # GenPulse's task store: "actor" (in-cluster) or "redis" (a private redis-server)
    env: dict[str, str] = field(default_factory=dict)  # environment of GenPulse's Ray processes
    callbacks: bool = False  # GenPulse: vendor callbacks on (the fake vendor POSTs to GenPulse's Serve port)
    warmup: int = 0  # GenPulse: jobs run (and not counted) before the measured ones, e.g. to learn job durations


def run_pair(w: Workload, sides: tuple[str, ...] = ("baseline", "genpulse")) -> dict[str, dict[str, Any] | None]:
    reports: dict[str, dict[str, Any] | None] = {"baseline": None, "genpulse": None}
    with services.fake_vendor(**w.vendor) as vendor:
        if "baseline" in sides:
            _say(f"baseline: {w.n} jobs")
            with services.celery_ref(vendor.url, **w.baseline) as api:
                reports["baseline"] = drive(
                    "baseline", api.url, vendor.url, w.n, pids={**vendor.pids}, pids_file=api.pids_file, **w.drive
                )
            _say(f"baseline done: {_brief(reports['baseline'])}")
        if "genpulse" in sides:
            _say(f"GenPulse: {w.n} jobs")
            args = services.genpulse_args(vendor.url, tempfile.mkdtemp(prefix="gpb-data-"), **w.kling)
            args.update(w.genpulse)
            with ExitStack() as stack:
                pids = dict(vendor.pids)
                if w.store == "redis":
                    redis = stack.enter_context(services.redis_server())
                    args["store"] = {"url": redis.url}
                    pids.update(redis.pids)
                api = stack.enter_context(services.genpulse(args, env_extra=w.env, callbacks=w.callbacks))
                pids.update(api.pids)
                if w.warmup:
                    _say(f"GenPulse: {w.warmup} warm-up jobs (not counted)")
                    drive("genpulse", api.url, vendor.url, w.warmup, **w.drive)
                before = tree_breakdown(api.pids["genpulse"])
                reports["genpulse"] = drive("genpulse", api.url, vendor.url, w.n, pids=pids, **w.drive)
                after = tree_breakdown(api.pids["genpulse"])
                reports["genpulse"]["breakdown"] = after
                reports["genpulse"]["breakdown_run"] = cpu_during(before, after)
            _say(f"GenPulse done: {_brief(reports['genpulse'])}")
    return reports


def _say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _brief(r: dict[str, Any] | None) -> str:
    return "" if r is None else f"wall {r['wall_s']} s, tasks {r['tasks']}, submit {r['submit']['throughput_per_s']}/s"


# --- metrics from a load.py report ---------------------------------------------------------------------------
def service_cpu(r: dict[str, Any] | None) -> float | None:
    if r is None:
        return None
    cpu = r["processes"]["cpu_seconds"]
    return round(sum(v for k, v in cpu.items() if k != "vendor"), 2)


def service_pss(r: dict[str, Any] | None) -> float | None:
    if r is None:
        return None
    return round(sum(v for k, v in r["processes"]["peak_pss_mb"].items() if k != "vendor"), 1)


def get(r: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if r is None:
            return None
        r = r.get(key)
    return r


def vendor_429(r: dict[str, Any] | None) -> int | None:
    codes = get(r, "vendor_stats", "http_429_by_code")
    return None if codes is None else sum(codes.values())


def per_job(value: float | None, r: dict[str, Any] | None) -> float | None:
    n = get(r, "config", "n")
    return None if value is None or not n else value / n


def minus(value: float | None, d: float) -> float | None:
    return None if value is None else round(value - d, 3)


def cpu_during(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each process's CPU seconds spent between two breakdowns (its PSS and RSS at the second)."""
    out = {}
    for name, now in after.items():
        cpu = round(now["cpu_s"] - before.get(name, {}).get("cpu_s", 0.0), 2)
        out[name] = {**now, "cpu_s": cpu}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu_s"]))


def cpu_ms_per_job(r: dict[str, Any] | None) -> dict[str, float]:
    """Service CPU ms per job by process during the load: the baseline's named processes (load.py), or the
    processes of GenPulse's tree by title (``breakdown_run``); the vendor is left out."""
    n = get(r, "config", "n")
    if r is None or not n:
        return {}
    if "breakdown_run" in r:
        cpu = {k: v["cpu_s"] for k, v in r["breakdown_run"].items()}
    else:
        cpu = {k: v for k, v in r["processes"]["cpu_seconds"].items() if k != "vendor"}
    return {k: round(1000 * v / n, 2) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v > 0}


def cpu_note(label: str, r: dict[str, Any] | None) -> str | None:
    per = cpu_ms_per_job(r)
    if not per:
        return None
    return f"{label} service CPU ms per job by process: " + ", ".join(f"{k} {v:g}" for k, v in per.items())


def tree_breakdown(root: int) -> dict[str, dict[str, float]]:
    """CPU seconds (since start) and PSS MB of each live process under ``root``, by process title."""
    load = __import__("benchmarks.driver", fromlist=["load_module"]).load_module()
    kids = load._children()
    out: dict[str, dict[str, float]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            name = argv[0].decode(errors="replace").rsplit("/", 1)[-1]
            if name.startswith("python") and len(argv) > 2:
                name = argv[1 if argv[1] != b"-u" else 2].decode(errors="replace").rsplit("/", 1)[-1]
            name = name.split(" ")[0][:60]
            if name.startswith("ray::"):  # a Ray worker's title names the method it runs now: keep the actor
                name = name.split(".", 1)[0]
            cpu, pss = load._usage(pid, {})
            slot = out.setdefault(name, {"cpu_s": 0.0, "pss_mb": 0.0, "rss_mb": 0.0, "count": 0})
            slot["cpu_s"] = round(slot["cpu_s"] + cpu, 2)
            slot["pss_mb"] = round(slot["pss_mb"] + pss / 2**20, 1)
            slot["rss_mb"] = round(slot["rss_mb"] + _rss(pid) / 2**20, 1)
            slot["count"] += 1
        except (OSError, IndexError):
            pass
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu_s"]))


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
