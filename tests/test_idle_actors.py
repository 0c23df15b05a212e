"""Idle memory: a cluster starts worker pools and limiters only for the providers that can run tasks.

Zero config (no vendor credentials) used to start a ProviderWorker for each of the 10 providers and a
RateLimiterActor for each of the 8 vendors; now only the configured ones get them. A provider that lost its
credentials while it had open tasks still gets its pool, so those tasks are settled (``adopt_leftovers``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from deployments.cluster import adopt_leftovers, configured
from genpulse.core.config import AppArgs
from genpulse.jobs.dispatch import PoolDispatcher
from genpulse.providers.registry import Registry
from genpulse.tasks.memory_store import MemoryTaskStore
from tests.support.tasks import make


def _wiring(args: dict[str, Any], store: MemoryTaskStore | None = None) -> Any:
    return SimpleNamespace(registry=Registry(AppArgs.load(args)), store=store or MemoryTaskStore())


def test_only_configured_providers_get_workers() -> None:
    assert configured(_wiring({})) == ["diffusers", "pipeline"]  # no credentials: no vendor pools, no limiters
    kling = {"providers": {"kling": {"access_key": "ak", "secret_key": "sk"}, "diffusers": {"enabled": False}}}
    assert configured(_wiring(kling)) == ["kling", "pipeline"]


async def test_an_unconfigured_provider_with_open_tasks_gets_its_pool_back() -> None:
    store = MemoryTaskStore()
    await store.create(make(provider="kling"))
    wiring = _wiring({}, store)
    made: list[str] = []
    dispatcher = PoolDispatcher(lambda p: made.append(p) or [object()], configured(wiring))
    assert await adopt_leftovers(wiring, dispatcher) == ["kling"]
    assert made == ["kling"] and "kling" in dispatcher.providers
    assert await adopt_leftovers(wiring, dispatcher) == []  # once is enough
