"""GenPulse's own Prometheus metrics, exported through Ray's per-node metrics agent (``ray.util.metrics``).

Why ``ray.util.metrics`` and not a ``prometheus_client`` registry per process: GenPulse code runs in many Ray
worker processes (ingress and diffusion replicas, worker and limiter actors) that come and go on every node.
``ray.util.metrics`` hands each sample to the node's metrics agent, so there is one exporter per node, on
``--metrics-export-port``, and Ray's Prometheus service discovery (``prom_metrics_service_discovery.json`` or
the dashboard's ``/api/prometheus/sd``) already lists every node. Names get Ray's ``ray_`` prefix and counters
a ``_total`` suffix: ``genpulse_tasks`` is scraped as ``ray_genpulse_tasks_total``.

Outside Ray (plain unit tests, in-process hosts) the Ray side is a no-op. Every metric also keeps a small
in-process tally (``Metric.value``) so the wiring can be tested without a cluster. Tags are low-cardinality
on purpose: provider, task type, status, error class; never a task id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

Kind = Literal["counter", "gauge", "histogram"]

LATENCY_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800]
BATCH = [1, 2, 4, 8, 16, 32]


class Metric:
    """One metric family. ``record`` is the single write path; it never raises into the caller."""

    def __init__(
        self, kind: Kind, name: str, description: str, tag_keys: tuple[str, ...], boundaries: list[float] | None = None
    ) -> None:
        self.kind, self.name, self.description, self.tag_keys = kind, name, description, tag_keys
        self.boundaries = boundaries or LATENCY_S
        self._ray: Any = None
        self._lock = threading.Lock()
        self._tally: dict[tuple[str, ...], float] = {}

    def _ray_metric(self) -> Any:
        if self._ray is None:
            import ray

            if not ray.is_initialized():
                return None
            from ray.util import metrics

            with self._lock:
                if self._ray is None:
                    if self.kind == "counter":
                        self._ray = metrics.Counter(self.name, self.description, self.tag_keys)
                    elif self.kind == "gauge":
                        self._ray = metrics.Gauge(self.name, self.description, self.tag_keys)
                    else:
                        self._ray = metrics.Histogram(self.name, self.description, self.boundaries, self.tag_keys)
        return self._ray

    def record(self, value: float, **tags: str) -> None:
        key = tuple(str(tags.get(k, "")) for k in self.tag_keys)
        with self._lock:
            if self.kind == "gauge":
                self._tally[key] = value
            else:  # counters sum values; histograms keep their observation count here
                self._tally[key] = self._tally.get(key, 0.0) + (value if self.kind == "counter" else 1)
        try:
            backend = self._ray_metric()
            if backend is None:
                return
            clean = dict(zip(self.tag_keys, key, strict=True))
            if self.kind == "counter":
                backend.inc(value, tags=clean)
            elif self.kind == "gauge":
                backend.set(value, tags=clean)
            else:
                backend.observe(value, tags=clean)
        except Exception:  # metrics must never break the work they observe
            return

    def value(self, **tags: str) -> float:
        """In-process tally for ``tags``: a counter's sum, a gauge's last value, a histogram's count."""
        key = tuple(str(tags.get(k, "")) for k in self.tag_keys)
        with self._lock:
            return self._tally.get(key, 0.0)


def _m(kind: Kind, name: str, description: str, *tags: str, boundaries: list[float] | None = None) -> Metric:
    return Metric(kind, name, description, tags, boundaries)


TASKS = _m("counter", "genpulse_tasks", "Task outcomes written by workers.", "provider", "task_type", "status")
TASK_SECONDS = _m(
    "histogram", "genpulse_task_seconds", "Task age at its terminal state.", "provider", "task_type", "status"
)
QUEUE_DEPTH = _m("gauge", "genpulse_queue_depth", "Queued tasks of a provider.", "provider", "worker")
JOBS_IN_FLIGHT = _m("gauge", "genpulse_jobs_in_flight", "Jobs a worker is driving now.", "provider", "worker")
VENDOR_SECONDS = _m("histogram", "genpulse_vendor_request_seconds", "Vendor API calls.", "provider", "op", "outcome")
VENDOR_ERRORS = _m("counter", "genpulse_vendor_errors", "Vendor API errors by class.", "provider", "op", "error")
LIMITER_WAIT = _m("histogram", "genpulse_limiter_wait_seconds", "Time waiting on a rate limiter.", "provider", "kind")
LIMITER_429 = _m("counter", "genpulse_limiter_429", "Vendor 429 answers reported to the limiter.", "provider")
DIFFUSION_BATCH = _m(
    "histogram", "genpulse_diffusion_batch_size", "Images per pipeline call.", "model", boundaries=BATCH
)
DIFFUSION_SECONDS = _m("histogram", "genpulse_diffusion_seconds", "Pipeline call latency.", "model", "outcome")
BYTES_STORED = _m("counter", "genpulse_stored_bytes", "Output bytes written to storage.", "provider")
ASSETS_STORED = _m("counter", "genpulse_stored_assets", "Output assets written to storage.", "provider")

ALL = [
    TASKS,
    TASK_SECONDS,
    QUEUE_DEPTH,
    JOBS_IN_FLIGHT,
    VENDOR_SECONDS,
    VENDOR_ERRORS,
    LIMITER_WAIT,
    LIMITER_429,
    DIFFUSION_BATCH,
    DIFFUSION_SECONDS,
    BYTES_STORED,
    ASSETS_STORED,
]


def task_finished(provider: str, task_type: str, status: str, age_s: float, assets: list[dict[str, Any]]) -> None:
    """A worker wrote a task's outcome (``succeeded``, ``failed``, ``canceled`` or ``retrying``)."""
    TASKS.record(1, provider=provider, task_type=task_type, status=status)
    if status != "retrying":
        TASK_SECONDS.record(max(0.0, age_s), provider=provider, task_type=task_type, status=status)
    for asset in assets:
        BYTES_STORED.record(float(asset.get("bytes") or 0), provider=provider)
        ASSETS_STORED.record(1, provider=provider)


@contextmanager
def timed(metric: Metric, **tags: str) -> Iterator[None]:
    """Observe the block's duration with ``outcome`` = ``ok`` or the exception's ``type`` attribute / class."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except BaseException as exc:
        outcome = error_class(exc)
        raise
    finally:
        metric.record(time.perf_counter() - started, **tags, outcome=outcome)


def error_class(exc: BaseException) -> str:
    """A low-cardinality error class: a GenPulseError's ``type`` (``rate_limited``...), else the class name."""
    kind = getattr(exc, "type", None)
    return kind if isinstance(kind, str) else type(exc).__name__


class MeteredLimiter:
    """Wraps a ``genpulse.providers.vendor_runner.Limiter``: records wait times and 429s of ``provider``."""

    def __init__(self, inner: Any, provider: str) -> None:
        self._inner, self._provider = inner, provider

    async def acquire_request(self, priority: str = "normal") -> float:
        waited = await self._inner.acquire_request(priority)
        LIMITER_WAIT.record(float(waited or 0.0), provider=self._provider, kind="request")
        return waited

    async def acquire_job(self, task_id: str, priority: str = "normal", owner: str = "") -> float:
        waited = await self._inner.acquire_job(task_id, priority, owner)
        LIMITER_WAIT.record(float(waited or 0.0), provider=self._provider, kind="job")
        return waited

    async def renew_job(self, task_id: str, owner: str = "") -> bool:
        return await self._inner.renew_job(task_id, owner)

    async def release_job(self, task_id: str, owner: str = "") -> None:
        await self._inner.release_job(task_id, owner)

    async def report_429(self, retry_after: float | None = None) -> None:
        LIMITER_429.record(1, provider=self._provider)
        await self._inner.report_429(retry_after)

    async def report_out(self, reason: str, cooldown_s: float) -> None:
        await self._inner.report_out(reason, cooldown_s)

    async def stats(self) -> dict[str, Any]:
        return await self._inner.stats()
