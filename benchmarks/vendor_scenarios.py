"""Scenarios 1-3 of issue 7: submit storm, long jobs, rate limit (GenPulse and the baseline, same vendor).

Baseline settings follow ``BENCH_DIR/run_scenario.sh`` (a, b, c): two gevent workers x 500, a 2 s vendor poll,
a 1,000 QPS limiter where the vendor has no limit. GenPulse runs its shipped defaults (adaptive poll schedule:
1 s for the first 10 s, then 3 s) with limits set to the same values as the baseline's.
"""

from __future__ import annotations

from dataclasses import replace

from benchmarks.pair import (
    Workload,
    cpu_note,
    get,
    minus,
    per_job,
    run_pair,
    service_cpu,
    service_pss,
    vendor_429,
)
from benchmarks.report import Result

Sides = tuple[str, ...]
Env = dict[str, str] | None
BOTH: Sides = ("baseline", "genpulse")


def submit_storm(
    n: int = 1000, sides: Sides = BOTH, concurrency: int = 200, store: str = "actor", env: Env = None
) -> Result:
    w = Workload(
        n=n,
        vendor={"duration": "1", "qps": 0},
        baseline={"rate_limit_qps": 1000},
        kling={"rps": 1000, "max_concurrent_jobs": max(n, 10)},
        drive={"concurrency": concurrency, "poll_interval": 2.0, "timeout": 600},
        store=store,
        env=env or {},
    )
    b, g = (r := run_pair(w, sides))["baseline"], r["genpulse"]
    res = Result(
        "submit-storm",
        f"python -m benchmarks submit-storm -n {n}",
        {"jobs": n, "vendor_job_s": 1, "client_submit_concurrency": concurrency, "client_poll_s": 2},
        raw=r,
    )
    res.add(
        "accepted submits/s",
        get(b, "submit", "throughput_per_s"),
        get(g, "submit", "throughput_per_s"),
        ">= 1.0x (stretch 1.5x)",
    )
    res.add("submit latency p50, ms", get(b, "submit", "latency_ms_p50"), get(g, "submit", "latency_ms_p50"))
    res.add("submit latency p99, ms", get(b, "submit", "latency_ms_p99"), get(g, "submit", "latency_ms_p99"))
    for q in ("p50", "p99"):
        res.add(
            f"vendor done -> task visible {q}, s",
            minus(get(b, "server_e2e_s", q), 1.0),
            minus(get(g, "server_e2e_s", q), 1.0),
            "<= 0.25x" if q == "p50" else "",
        )
    _common(res, b, g, n)
    res.notes.append(
        "vendor done -> visible = server-side created->finished minus the 1 s vendor job; it includes the time "
        "from accept to the vendor submit, so it is an upper bound on the vendor-finish -> `succeeded` delay."
    )
    return res


def long_jobs(
    n: int = 300,
    sides: Sides = BOTH,
    duration: float = 30.0,
    store: str = "actor",
    env: Env = None,
    polling: int = 1,
    warmup: int = 0,
) -> Result:
    """GenPulse with vendor callbacks on (the table's GenPulse column), and with them off (``polling=1``, the
    default: a third run, GenPulse only, on the learned poll schedule; its rows say "callbacks off"). ``warmup``:
    jobs the callbacks-off run does first, uncounted, so its poll schedule knows this job type's duration (a
    gateway that has been running; 0: a cold start, where every job of the burst polls on the default schedule)."""
    w = Workload(
        n=n,
        vendor={"duration": str(duration), "qps": 0},
        baseline={"rate_limit_qps": 1000},
        kling={"rps": 1000, "max_concurrent_jobs": max(n, 10)},
        drive={"concurrency": 200, "poll_interval": 5.0, "timeout": 600},
        store=store,
        env=env or {},
        callbacks=True,
    )
    b, g = (r := run_pair(w, sides))["baseline"], r["genpulse"]
    r, off = _callbacks_off(r, replace(w, warmup=warmup), sides, polling)
    res = Result(
        "long-jobs",
        f"python -m benchmarks long-jobs -n {n}" + (f" --opt warmup={warmup}" if warmup else ""),
        {
            "jobs": n,
            "vendor_job_s": duration,
            "client_poll_s": 5,
            "genpulse_callbacks": "on (and off: separate run)",
            "callbacks_off_warmup_jobs": warmup,
        },
        raw=r,
    )
    res.add(
        "vendor jobs in flight at once (max)",
        get(b, "vendor_stats", "max_concurrent_tasks"),
        get(g, "vendor_stats", "max_concurrent_tasks"),
        f"= {n} (all)",
    )
    res.add(
        "vendor polls per job",
        per_job(get(b, "vendor_stats", "polls"), b),
        per_job(get(g, "vendor_stats", "polls"), g),
        "<= 0.33x",
    )
    res.add(
        "vendor callbacks per job (sent / failed)",
        _callbacks(b),
        _callbacks(g),
    )
    for q in ("p50", "p99"):
        res.add(f"server e2e {q}, s", get(b, "server_e2e_s", q), get(g, "server_e2e_s", q), "<= 1.0x")
    if off is not None:
        res.add(
            "callbacks off: vendor polls per job",
            per_job(get(b, "vendor_stats", "polls"), b),
            per_job(get(off, "vendor_stats", "polls"), off),
        )
        for q in ("p50", "p99"):
            res.add(f"callbacks off: server e2e {q}, s", get(b, "server_e2e_s", q), get(off, "server_e2e_s", q))
        res.add(
            "callbacks off: service CPU s per job",
            per_job(service_cpu(b), b),
            per_job(service_cpu(off), off),
        )
    res.add("service peak PSS, MB (all processes)", service_pss(b), service_pss(g), "<= 1.0x")
    _common(res, b, g, n)
    if off is not None and (note := cpu_note("GenPulse (callbacks off)", off)):
        res.notes.append(note)
    return res


def _callbacks_off(r: dict, w: Workload, sides: Sides, polling: int) -> tuple[dict, dict | None]:
    """GenPulse alone again with vendor callbacks off (``polling``: 0 skips it); the pair's report gains it."""
    if not polling or "genpulse" not in sides:
        return r, None
    off = run_pair(replace(w, callbacks=False), ("genpulse",))["genpulse"]
    return {**r, "genpulse_callbacks_off": off}, off


def _callbacks(r: dict | None) -> str | None:
    sent, failed = get(r, "vendor_stats", "callbacks_sent"), get(r, "vendor_stats", "callbacks_failed")
    n = get(r, "config", "n")
    if sent is None or not n:
        return None
    return f"{sent / n:.2g} / {(failed or 0) / n:.2g}"


def rate_limit(n: int = 300, sides: Sides = BOTH, store: str = "actor", env: Env = None, polling: int = 1) -> Result:
    """GenPulse with vendor callbacks on (the table's GenPulse column: a callback frees the job slot the moment the
    vendor's job ends), and with them off (``polling=1``, the default: a third run, GenPulse only, whose rows say
    "callbacks off": the end is seen by the next poll)."""
    qps, conc, dur = 20, 10, 2.0
    w = Workload(
        n=n,
        vendor={"duration": str(dur), "qps": qps, "max_concurrent": conc},
        baseline={"rate_limit_qps": qps},
        kling={"rps": qps, "max_concurrent_jobs": conc},
        drive={"concurrency": 200, "poll_interval": 2.0, "timeout": 900},
        store=store,
        env=env or {},
        callbacks=True,
    )
    b, g = (r := run_pair(w, sides))["baseline"], r["genpulse"]
    r, off = _callbacks_off(r, w, sides, polling)
    floor = max(n * dur / conc, 2 * n / qps)  # concurrency-bound vs one submit + one poll per job at the rate
    res = Result(
        "rate-limit",
        f"python -m benchmarks rate-limit -n {n}",
        {
            "jobs": n,
            "vendor_job_s": dur,
            "vendor_qps": qps,
            "vendor_max_concurrent": conc,
            "theoretical_min_s": floor,
            "genpulse_callbacks": "on (and off: separate run)",
        },
        raw=r,
    )
    res.add("vendor 429s (1302 rate + 1303 concurrency)", vendor_429(b), vendor_429(g), "GenPulse 0")
    res.add("vendor mean accepted QPS / limit", _rate(b, qps), _rate(g, qps))
    res.add(
        "vendor max concurrent jobs / limit",
        _ratio(get(b, "vendor_stats", "max_concurrent_tasks"), conc),
        _ratio(get(g, "vendor_stats", "max_concurrent_tasks"), conc),
    )
    res.add(
        "job throughput / bound (min(conc/dur, qps/2))",
        _jobs_rate(b, floor, n),
        _jobs_rate(g, floor, n),
        "GenPulse >= 0.9",
    )
    res.add("wall time / theoretical minimum", _ratio(get(b, "wall_s"), floor), _ratio(get(g, "wall_s"), floor))
    if off is not None:
        res.add("callbacks off: vendor 429s", vendor_429(b), vendor_429(off), "GenPulse 0")
        res.add("callbacks off: job throughput / bound", _jobs_rate(b, floor, n), _jobs_rate(off, floor, n))
        res.add("callbacks off: service CPU s per job", per_job(service_cpu(b), b), per_job(service_cpu(off), off))
    _common(res, b, g, n)
    if off is not None and (note := cpu_note("GenPulse (callbacks off)", off)):
        res.notes.append(note)
    return res


def _common(res: Result, b: dict | None, g: dict | None, n: int) -> None:
    res.add("completed", get(b, "tasks", "completed"), get(g, "tasks", "completed"), f"{n}")
    res.add("failed", get(b, "tasks", "failed"), get(g, "tasks", "failed"))
    res.add("lost", get(b, "tasks", "lost"), get(g, "tasks", "lost"), "0")
    res.add("wall time, s", get(b, "wall_s"), get(g, "wall_s"))
    res.add("service CPU s per job (vendor excluded)", per_job(service_cpu(b), b), per_job(service_cpu(g), g))
    for label, side in (("baseline", b), ("GenPulse", g)):
        if (note := cpu_note(label, side)) is not None:
            res.notes.append(note)


def _ratio(x: float | None, d: float) -> float | None:
    return None if x is None else round(x / d, 3)


def _rate(r: dict | None, qps: float) -> float | None:
    return _ratio(get(r, "vendor_stats", "mean_qps_accepted"), qps)


def _jobs_rate(r: dict | None, floor: float, n: int) -> float | None:
    wall = get(r, "wall_s")
    return None if not wall else round(floor / wall, 3)
