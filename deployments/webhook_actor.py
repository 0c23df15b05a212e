"""WebhookActor: one named, detached, restartable actor that delivers the outbox (``genpulse.webhooks.deliver``).

It outlives requests, ingress replicas and redeploys; after a crash Ray restarts it and its loop picks up
every pending delivery from the store (the outbox is durable with the Redis store, and lives in the store
actor otherwise). ``num_cpus=0``: it waits on I/O. A second copy would only cause duplicate deliveries, which
at-least-once allows; ``get_if_exists`` keeps it to one. The ingress supervises it from its health check:
it is created again if it died for good and handed the app's current config (``configure``) each time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from genpulse.core.config import AppArgs
from genpulse.tasks import open_store
from genpulse.webhooks.deliver import WebhookDeliverer

log = logging.getLogger("genpulse.webhooks")

ACTOR_NAME = "genpulse-webhooks"


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)
class WebhookActor:
    def __init__(self, args: AppArgs) -> None:
        store = open_store(args.store, args.namespace, args.placement.store.actor_options())
        self.deliverer = WebhookDeliverer(store, args.webhooks, security=args.security)
        self._loop: asyncio.Task[None] | None = None
        self._ensure_loop()

    async def configure(self, args: AppArgs) -> bool:
        """Adopt a redeployed app's webhook config (a rotated secret, new retry settings, the URL policy).

        Every ingress health check calls this; the same config again changes nothing (returns False)."""
        changed = self.deliverer.reconfigure(args.webhooks, security=args.security)
        self._ensure_loop()
        return changed

    def _ensure_loop(self) -> None:
        if self._loop is None or self._loop.done():
            self._loop = asyncio.get_event_loop().create_task(self.deliverer.run_forever())

    async def ping(self) -> dict[str, Any]:
        self._ensure_loop()
        running = self._loop is not None and not self._loop.done()
        return {"running": running, "open_clients": self.deliverer.open_clients}

    async def run_once(self) -> int:
        """Deliver what is due now (used by tests and operators; the loop does this on its own)."""
        return await self.deliverer.run_once()


def start_webhook_actor(args: AppArgs) -> Any:
    """Get or create the cluster's delivery actor (idempotent across ingress replicas) and hand it ``args``.

    Returns None while ``webhooks.secret`` is unset and auth is off: no task can then have a webhook, so nothing is
    started (with keys every tenant has its own secret).
    """
    if args.webhooks.secret is None and args.auth.mode == "off":
        return None
    actor = WebhookActor.options(
        name=ACTOR_NAME,
        namespace=args.namespace,
        lifetime="detached",
        get_if_exists=True,
        **args.placement.workers.actor_options(),  # an I/O actor like the workers: it runs where they run
    ).remote(args)
    actor.configure.remote(args)
    return actor
