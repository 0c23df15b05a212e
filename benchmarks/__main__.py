"""``python -m benchmarks <scenario> [-n N] [--side both|genpulse|baseline] [--tag T]``.

Prints the GenPulse / baseline table, writes ``benchmarks/results/<scenario>[-tag].json`` and, for an untagged
run of both sides, the scenario's block in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks.env import bench_available
from benchmarks.report import Result, publish

SCENARIOS = ("submit-storm", "long-jobs", "rate-limit", "diffusion", "overhead", "soak", "idle", "reads")


def runner(name: str) -> Callable[..., Result]:
    if name == "diffusion":
        from benchmarks.diffusion import diffusion

        return diffusion
    if name == "overhead":
        from benchmarks.overhead import overhead

        return overhead
    if name == "idle":
        from benchmarks.idle import idle

        return idle
    if name == "reads":
        from benchmarks.reads import reads

        return reads
    from benchmarks import vendor_scenarios

    return getattr(vendor_scenarios, name.replace("-", "_"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("-n", type=int, help="jobs / images / requests (scenario default when unset)")
    p.add_argument("--side", choices=("both", "genpulse", "baseline"), default="both")
    p.add_argument("--tag", default="", help="result file suffix; tagged runs do not touch docs/benchmarks.md")
    p.add_argument("--store", choices=("actor", "redis"), help="GenPulse task store (vendor scenarios)")
    p.add_argument("--serve-env", action="append", default=[], metavar="K=V", help="env of GenPulse's Ray processes")
    p.add_argument("--opt", action="append", default=[], metavar="K=V", help="scenario keyword (e.g. size=256)")
    a = p.parse_args(argv)
    if a.scenario not in ("diffusion", "idle") and not bench_available():
        p.error("the shared bench (fakevendor.py, load.py, celery_ref/) was not found; set GENPULSE_BENCH_DIR")
    kwargs: dict = {"sides": ("baseline", "genpulse") if a.side == "both" else (a.side,)}
    if a.n:
        kwargs["n"] = a.n
    if a.store:
        kwargs["store"] = a.store
    if a.serve_env:
        kwargs["env"] = dict(kv.split("=", 1) for kv in a.serve_env)
    for kv in a.opt:
        key, value = kv.split("=", 1)
        kwargs[key] = float(value) if "." in value else int(value) if value.lstrip("-").isdigit() else value
    if a.scenario == "soak":  # GenPulse alone: no baseline to compare memory growth with
        from benchmarks.soak import main as soak_main

        print(f"results: {soak_main(**kwargs)}", file=sys.stderr)
        return 0
    result = runner(a.scenario)(**kwargs)
    out = publish(result, tag=a.tag, docs=a.side == "both")
    print(result.table())
    for note in result.notes:
        print(f"- {note}")
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
