"""Scenario 5: the latency each gateway adds to an instant vendor, then 8 vs 64 clients hammering it.

Per side: one client submitting ``n`` jobs one at a time (submit latency; server-side created -> finished for a
job the vendor finishes at once), then ``hammer`` with 8 and with 64 closed-loop clients (``seconds`` each):
throughput of successful answers, answers shed (429/503, with or without ``Retry-After``), other errors, and
whether every accepted task finished.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from contextlib import ExitStack
from typing import Any

from benchmarks import services
from benchmarks.driver import drive
from benchmarks.hammer import hammer
from benchmarks.pair import cpu_during, cpu_note, get, tree_breakdown
from benchmarks.report import Result

CLIENTS = (8, 64)


def _side(side: str, vendor: services.Service, n: int, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    with ExitStack() as stack:
        if side == "baseline":
            api = stack.enter_context(services.celery_ref(vendor.url, rate_limit_qps=1000))
        else:
            args = services.genpulse_args(
                vendor.url, tempfile.mkdtemp(prefix="gpb-data-"), rps=1000, max_concurrent_jobs=100_000
            )
            api = stack.enter_context(services.genpulse(args, env_extra=env))
        print(f"[bench] {side}: sequential {n}", file=sys.stderr, flush=True)
        root = api.pids.get("genpulse")
        before = tree_breakdown(root) if root else None
        seq = drive(side, api.url, vendor.url, n, concurrency=1, poll_interval=0.2, timeout=120,
                    pids=api.pids, pids_file=api.pids_file)  # fmt: skip
        if root and before is not None:
            seq["breakdown_run"] = cpu_during(before, tree_breakdown(root))
        out: dict[str, Any] = {"sequential": seq}
        for c in CLIENTS:
            print(f"[bench] {side}: {c} clients x {seconds} s", file=sys.stderr, flush=True)
            out[f"c{c}"] = asyncio.run(hammer(side, api.url, c, seconds)).summary()
        return out


def overhead(
    n: int = 50, sides: tuple[str, ...] = ("baseline", "genpulse"), seconds: float = 10.0, env: dict | None = None
) -> Result:
    r: dict[str, Any] = {"baseline": None, "genpulse": None}
    with services.fake_vendor(duration="0", qps=0) as vendor:
        for side in ("baseline", "genpulse"):
            if side in sides:
                r[side] = _side(side, vendor, n, seconds, env or {})
    b, g = r["baseline"], r["genpulse"]
    res = Result("overhead", f"python -m benchmarks overhead -n {n}",
                 {"sequential_jobs": n, "vendor_job_s": 0, "hammer_seconds": seconds, "clients": list(CLIENTS)},
                 raw=r)  # fmt: skip
    for q in ("p50", "p99"):
        res.add(f"submit latency {q}, 1 client, ms", get(b, "sequential", "submit", f"latency_ms_{q}"),
                get(g, "sequential", "submit", f"latency_ms_{q}"))  # fmt: skip
    for q in ("p50", "p99"):
        res.add(f"instant job created->finished {q}, s", get(b, "sequential", "server_e2e_s", q),
                get(g, "sequential", "server_e2e_s", q))  # fmt: skip
    for c in CLIENTS:
        res.add(f"{c} clients: successful answers/s", get(b, f"c{c}", "throughput_per_s"),
                get(g, f"c{c}", "throughput_per_s"))  # fmt: skip
        res.add(f"{c} clients: latency p99, ms", get(b, f"c{c}", "latency_ms_p99"), get(g, f"c{c}", "latency_ms_p99"))
    res.add("throughput 64 / throughput 8", _scale(b), _scale(g), "GenPulse >= 0.8")
    for key, label in (("shed_with_retry_after", "shed with Retry-After (429/503)"),
                       ("shed_without_retry_after", "shed without Retry-After"),
                       ("unfinished", "accepted tasks not finished")):  # fmt: skip
        res.add(f"64 clients: {label}", get(b, "c64", key), get(g, "c64", key), "0" if "without" in label else "")
    res.add("64 clients: other errors", _errors(b), _errors(g), "0")
    for label, side in (("baseline", b), ("GenPulse", g)):
        if (note := cpu_note(f"{label} (sequential jobs)", side and side["sequential"])) is not None:
            res.notes.append(note)
    return res


def _scale(side: dict | None) -> float | None:
    lo, hi = get(side, "c8", "throughput_per_s"), get(side, "c64", "throughput_per_s")
    return round(hi / lo, 3) if lo and hi is not None else None


def _errors(side: dict | None) -> int | None:
    errs = get(side, "c64", "errors")
    return None if errs is None else sum(errs.values())
