"""Closed-loop clients hammering submit and status for a fixed time; then every accepted task must finish.

Each client loops: ``POST`` a task, then ``GET`` the status of a task it submitted. Every answer is classed as
success (2xx), shed (429/503, with or without ``Retry-After``) or error (anything else, transport errors
included). Works for both gateways through the same load.py adapters.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.driver import ADAPTER, load_module


@dataclass
class HammerStats:
    clients: int
    seconds: float = 0.0
    ok: int = 0
    shed_with_retry_after: int = 0
    shed_without_retry_after: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    completed: int = 0
    unfinished: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return round(self.ok / self.seconds, 1) if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        p = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1)) if lat else (lambda q: None)
        return {"clients": self.clients, "seconds": round(self.seconds, 2), "ok": self.ok,
                "throughput_per_s": self.throughput, "shed_with_retry_after": self.shed_with_retry_after,
                "shed_without_retry_after": self.shed_without_retry_after, "errors": self.errors,
                "accepted": len(self.accepted), "completed": self.completed, "unfinished": self.unfinished,
                "latency_ms_p50": p(0.5), "latency_ms_p99": p(0.99)}  # fmt: skip


async def hammer(side: str, api: str, clients: int, seconds: float, finish_timeout: float = 180) -> HammerStats:
    load = load_module()
    adapter = load.ADAPTERS[ADAPTER[side]]()
    opts = type("A", (), {"prompt": "a fox", "video_duration": "5", "model": "kling-v1"})()
    st = HammerStats(clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients * 2), timeout=timeout) as http:

        async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            t0 = time.perf_counter()
            try:
                async with http.request(method, api + path, json=body) as r:
                    data = await r.json(content_type=None) if r.status < 300 else None
                    if r.status < 300:
                        st.ok += 1
                        st.latencies.append(time.perf_counter() - t0)
                    elif r.status in (429, 503):
                        if r.headers.get("Retry-After"):
                            st.shed_with_retry_after += 1
                        else:
                            st.shed_without_retry_after += 1
                    else:
                        st.errors[f"HTTP {r.status}"] = st.errors.get(f"HTTP {r.status}", 0) + 1
                    return r.status, data
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                st.errors[type(exc).__name__] = st.errors.get(type(exc).__name__, 0) + 1
                return 0, None

        async def client(i: int, stop_at: float) -> None:
            mine: list[str] = []
            k = 0
            while time.perf_counter() < stop_at:
                path, body = adapter.submit_request(i * 1_000_000 + k, opts)
                k += 1
                status, data = await call("POST", path, body)
                if status in (200, 201, 202) and data:
                    mine.append(adapter.task_id(data))
                    st.accepted.append(mine[-1])
                if mine and time.perf_counter() < stop_at:
                    await call("GET", adapter.status_path(random.choice(mine)))

        t0 = time.perf_counter()
        await asyncio.gather(*(client(i, t0 + seconds) for i in range(clients)))
        st.seconds = time.perf_counter() - t0
        await _finish(http, adapter, api, st, finish_timeout)
    return st


async def _finish(http: aiohttp.ClientSession, adapter: Any, api: str, st: HammerStats, timeout: float) -> None:
    """Poll every accepted task (32 at a time, 0.5 s apart) until terminal or the deadline."""
    deadline = time.perf_counter() + timeout
    sem = asyncio.Semaphore(32)

    async def one(task_id: str) -> bool:
        while time.perf_counter() < deadline:
            async with sem:
                try:
                    async with http.get(api + adapter.status_path(task_id)) as r:
                        if r.status == 200 and adapter.state(await r.json(content_type=None)) != "running":
                            return True
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    pass
            await asyncio.sleep(0.5)
        return False

    done = await asyncio.gather(*(one(t) for t in st.accepted))
    st.completed, st.unfinished = sum(done), len(done) - sum(done)
