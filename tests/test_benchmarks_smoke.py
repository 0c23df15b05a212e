"""Small-N runs of every benchmark scenario (``python -m benchmarks ...``): the harness works end to end.

No timing assertions: only that every job completes and each table has its rows. The baseline (Celery, in its
own venv) runs too when that venv already exists (``GENPULSE_BENCH_VENV``, default ``../.venv-bench``);
otherwise only the GenPulse side runs, since creating the venv takes minutes. Results go to
``benchmarks/results/<scenario>-smoke.json``; ``docs/benchmarks.md`` is not touched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.env import BENCH_VENV, bench_available
from benchmarks.report import Result, publish

pytestmark = [pytest.mark.bench, pytest.mark.timeout(240)]

if not bench_available():
    pytest.skip("the shared bench (GENPULSE_BENCH_DIR) is not here", allow_module_level=True)

SIDES = ("baseline", "genpulse") if (BENCH_VENV / "bin" / "python").exists() else ("genpulse",)


@pytest.fixture(scope="module", autouse=True)
def one_ray() -> Iterator[None]:
    """One GenPulse host (Ray + Serve) for the module; each scenario redeploys on it."""
    from benchmarks.services import shared_genpulse

    with shared_genpulse():
        yield


def rows(result: Result) -> dict[str, tuple]:
    publish(result, tag="smoke", docs=False)
    return {r.metric: (r.baseline, r.genpulse) for r in result.rows}


def test_submit_storm_smoke() -> None:
    from benchmarks.vendor_scenarios import submit_storm

    got = rows(submit_storm(n=20, sides=SIDES, concurrency=10))
    assert got["completed"][1] == 20 and got["lost"][1] == 0
    if "baseline" in SIDES:
        assert got["completed"][0] == 20


def test_rate_limit_smoke() -> None:
    from benchmarks.vendor_scenarios import rate_limit

    got = rows(rate_limit(n=12, sides=("genpulse",), polling=0))  # callbacks on only (long jobs runs both)
    assert got["completed"][1] == 12
    assert got["vendor 429s (1302 rate + 1303 concurrency)"][1] == 0


def test_long_jobs_smoke() -> None:
    from benchmarks.vendor_scenarios import long_jobs

    got = rows(long_jobs(n=10, sides=("genpulse",), duration=2.0))
    assert got["completed"][1] == 10
    assert got["vendor jobs in flight at once (max)"][1] == 10
    assert got["vendor callbacks per job (sent / failed)"][1] == "1 / 0"  # callbacks on: each job called back
    assert got["callbacks off: vendor polls per job"][1] is not None  # and the run with them off


def test_overhead_smoke() -> None:
    from benchmarks.overhead import overhead

    got = rows(overhead(n=3, sides=("genpulse",), seconds=1.0))
    assert got["64 clients: accepted tasks not finished"][1] == 0
    assert got["64 clients: shed without Retry-After"][1] == 0


def test_diffusion_smoke() -> None:
    from benchmarks.diffusion import diffusion

    got = rows(diffusion(n=2, concurrency=2, batching=0))
    assert got["failed"] == (0, 0)
