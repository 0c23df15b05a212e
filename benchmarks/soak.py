"""``python -m benchmarks soak``: an hour of mixed traffic on GenPulse alone, watching every process's memory.

Traffic (bounded in count and time, all on 127.0.0.1): submits at ``rate`` per second to the Kling-shaped fake
vendor (which fails ``fail_fraction`` of its jobs, answers ``error_fraction`` of calls with 500 and
``ambiguous_fraction`` of submits with a bare 504), cancels of about one task in ten, ``sse_clients`` clients
following task event streams, ``?wait`` reads, and a signed webhook per task to a local receiver. Every
``sample_s`` it records each process of the GenPulse tree (PSS, by process title and pid). The result: each
process's memory slope (MB per hour, least squares over the run after ``warmup_s``), and the store's size at
the end (tasks listed, and the store actor's memory). Not part of CI: ``--opt duration_s=120`` for a quick run.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.env import REPO
from benchmarks.services import fake_vendor, genpulse, genpulse_args

RESULTS = REPO / "benchmarks" / "results"
VIDEO = {"provider": "kling", "task_type": "text-to-video", "params": {"prompt": "a fox in snow", "duration": 5}}


class _Hooks(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _title(proc: psutil.Process) -> str:
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return "?"
    if argv and argv[0].startswith("ray::"):  # "ray::Actor.method" while a call runs: keep the actor's name
        return argv[0].split(" ")[0].split(".")[0]
    name = Path(argv[0]).name if argv else proc.name()
    if name.startswith("python") and len(argv) > 1:
        name = next((a for a in argv[1:] if not a.startswith("-")), name).rsplit("/", 1)[-1]
    return name[:60]


def sample(root: int) -> dict[str, float]:
    """PSS in MB of every live process under ``root``, keyed ``title[pid]``."""
    out: dict[str, float] = {}
    try:
        procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return out
    for proc in procs:
        try:
            out[f"{_title(proc)}[{proc.pid}]"] = proc.memory_full_info().pss / 2**20
        except psutil.Error:
            continue
    return out


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    n = len(points)
    mean_t, mean_v = sum(t for t, _ in points) / n, sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 3600


async def _traffic(url: str, hook: str, duration_s: float, rate: float, sse_clients: int, stop: float) -> dict:
    counts = {"submitted": 0, "canceled": 0, "sse_events": 0, "waits": 0, "errors": 0}
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def submits() -> None:
            while time.monotonic() < stop:
                try:
                    r = await client.post("/v1/tasks", json={**VIDEO, "webhook_url": hook})
                    if r.status_code == 202:
                        ids.append(r.json()["id"])
                        counts["submitted"] += 1
                        if random.random() < 0.1:
                            await client.post(f"/v1/tasks/{ids[-1]}/cancel")
                            counts["canceled"] += 1
                    else:
                        counts["errors"] += 1
                except httpx.HTTPError:
                    counts["errors"] += 1
                await asyncio.sleep(1 / rate)

        async def follower() -> None:
            while time.monotonic() < stop:
                if not ids:
                    await asyncio.sleep(0.5)
                    continue
                try:
                    async with client.stream("GET", f"/v1/tasks/{random.choice(ids[-50:])}/events") as s:
                        async for line in s.aiter_lines():
                            counts["sse_events"] += line.startswith("event:")
                            if time.monotonic() > stop:
                                break
                except httpx.HTTPError:
                    counts["errors"] += 1

        async def waiter() -> None:
            while time.monotonic() < stop:
                if ids:
                    try:
                        await client.get(f"/v1/tasks/{random.choice(ids[-20:])}", params={"wait": 5})
                        counts["waits"] += 1
                    except httpx.HTTPError:
                        counts["errors"] += 1
                await asyncio.sleep(1)

        await asyncio.gather(submits(), waiter(), *(follower() for _ in range(sse_clients)))
    return counts


def soak(
    duration_s: float = 3600,
    rate: float = 4.0,
    sse_clients: int = 10,
    sample_s: float = 30,
    warmup_s: float = 300,
    **_: Any,
) -> dict[str, Any]:
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{hooks.server_address[1]}/hook"
    faults = {"duration": "2-8", "fail_fraction": 0.05, "error_fraction": 0.02, "ambiguous_fraction": 0.02}
    with fake_vendor(**faults) as vendor:
        args = genpulse_args(vendor.url, tempfile.mkdtemp(prefix="gpb-soak-"), rps=50, max_concurrent_jobs=200)
        args["webhooks"] = {"secret": "whsec_" + "c29hay10ZXN0LXNlY3JldC0xMjM0NTY3ODkw"}
        args["security"] = {"allow_private_urls": True, "allow_http_urls": True}
        with genpulse(args) as svc:
            root = svc.pids["genpulse"]
            series: dict[str, list[tuple[float, float]]] = {}
            started = time.monotonic()
            stop = started + duration_s
            runner = threading.Thread(
                target=lambda: result.update(asyncio.run(_traffic(svc.url, hook, duration_s, rate, sse_clients, stop)))
            )
            result: dict[str, Any] = {}
            runner.start()
            while runner.is_alive():
                at = time.monotonic() - started
                for key, mb in sample(root).items():
                    series.setdefault(key, []).append((at, mb))
                runner.join(sample_s)
            tasks = 0
            with httpx.Client(base_url=svc.url, timeout=60) as client:
                cursor: str | None = None
                while True:
                    page = client.get("/v1/tasks", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
                    tasks += len(page.json()["data"])
                    cursor = page.json().get("next_cursor")
                    if not cursor:
                        break
            final = sample(root)
    hooks.shutdown()
    warm = min(warmup_s, duration_s / 4)
    slopes = {k: slope_mb_per_hour([p for p in v if p[0] >= warm]) for k, v in series.items()}
    store_mb = sum(mb for k, mb in final.items() if "TaskStoreActor" in k)
    return {
        "command": f"python -m benchmarks soak --opt duration_s={duration_s:g}",
        "settings": {"duration_s": duration_s, "rate": rate, "sse_clients": sse_clients, **faults},
        "traffic": {**result, "webhooks_received": _Hooks.received},
        "slope_mb_per_hour": {k: None if v is None else round(v, 2) for k, v in sorted(slopes.items())},
        "final_pss_mb": {k: round(v, 1) for k, v in sorted(final.items())},
        "store": {"tasks": tasks, "store_actor_pss_mb": round(store_mb, 1)},
    }


def main(**kwargs: Any) -> Path:
    report = soak(**kwargs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"soak-{int(report['settings']['duration_s'])}s.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("traffic", "slope_mb_per_hour", "store")}, indent=2))
    return out
