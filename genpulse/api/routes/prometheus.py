"""``GET /metrics``: store-level gauges in Prometheus text format, computed from the TaskStore on each scrape.

Event metrics (task outcomes, vendor latency, limiter waits, diffusion, bytes stored) are exported by the
processes that see them, through Ray's metrics agent (``genpulse.core.metrics``). This endpoint adds what only the
store knows, the same from any ingress replica: how many tasks wait or run per provider and how old the oldest
queued one is. Only non-terminal tasks are counted (they are bounded by the queue; terminal ones are not);
completed work is ``ray_genpulse_tasks_total``. A store that cannot be read gives ``genpulse_store_up 0``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from genpulse.api.caller import admin_only
from genpulse.core.schemas import TaskStatus
from genpulse.tasks.queue_stats import QueueStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def store_families(stats: QueueStats, providers: list[str]) -> list[GaugeMetricFamily]:
    """Gauges of tasks by provider and non-terminal status, oldest queued age, and store health."""
    counts, oldest = stats.counts, stats.oldest_queued_s
    tasks_family = GaugeMetricFamily(
        "genpulse_store_tasks", "Non-terminal tasks in the TaskStore.", labels=["provider", "status"]
    )
    age_family = GaugeMetricFamily(
        "genpulse_store_oldest_queued_seconds", "Age of the oldest queued task.", labels=["provider"]
    )
    for provider in sorted(set(providers) | {p for p, _ in counts}):
        for status in (TaskStatus.queued.value, TaskStatus.running.value):
            tasks_family.add_metric([provider, status], counts.get((provider, status), 0))
        age_family.add_metric([provider], oldest.get(provider, 0.0))
    up = 1.0 if stats.up else 0.0
    up_family = GaugeMetricFamily("genpulse_store_up", "1 when the TaskStore answered this scrape.", value=up)
    return [tasks_family, age_family, up_family]


class _Fixed(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self):  # type: ignore[override]
        return iter(self._families)


def render(families: list[GaugeMetricFamily]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry)


router = APIRouter()


@router.get("/metrics", tags=["health"], response_class=Response, dependencies=[Depends(admin_only)])
async def metrics(request: Request) -> Response:
    """Prometheus text: store-level gauges (see the module docstring); the rest is on Ray's metrics port. With
    `auth.mode: keys` it needs the admin key."""
    service = request.app.state.service
    families = store_families(await service.queue_stats(), service.provider_names())
    return Response(render(families), media_type=CONTENT_TYPE)
