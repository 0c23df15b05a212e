"""WebhookDeliverer: sends due outbox deliveries, signed, and reschedules the failures.

Plain Python (the ``WebhookActor`` in ``deployments/webhook_actor.py`` runs ``run_forever``; tests drive
``run_once`` with an injected clock). Each attempt: guard the URL (``genpulse.core.url_guard.UrlGuard``, the policy
of ``security.*``; its client also checks the address it connects to; a refused URL fails the delivery for
good), POST the delivery's fixed body with fresh Standard Webhooks headers (same ``webhook-id`` every time),
and record the attempt. A 2xx delivers; anything else (status, timeout, connection error) is retried after
``backoff_base_s * 2**(n-1)`` (capped at ``backoff_max_s``, equal jitter, at least the receiver's
``Retry-After``) while the next attempt still falls inside ``retry_window_s`` of the window start; then the
delivery fails. Redirects are not followed. Every write is a CAS on the delivery; a lost race (a manual
redelivery meanwhile) drops this attempt's record, never the redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import httpx

from genpulse.core.config import SecurityConfig, WebhooksConfig
from genpulse.core.errors import Conflict, GenPulseError, NotFound
from genpulse.core.schemas import DEFAULT_TENANT
from genpulse.core.url_guard import UrlGuard
from genpulse.tasks import TaskStore
from genpulse.tasks.outbox import MAX_ATTEMPTS_KEPT, Delivery, DeliveryAttempt, DeliveryStatus
from genpulse.webhooks import signatures

log = logging.getLogger("genpulse.webhooks")


class WebhookDeliverer:
    def __init__(
        self,
        store: TaskStore,
        config: WebhooksConfig,
        *,
        security: SecurityConfig | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self._given_client = client
        self._clock, self._rng = clock, rng
        self._in_flight: set[str] = set()
        self._jobs: set[asyncio.Task[None]] = set()
        self._retired: list[httpx.AsyncClient] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._security = security or SecurityConfig()
        self.reconfigure(config, security=security or SecurityConfig())

    def reconfigure(self, config: WebhooksConfig, *, security: SecurityConfig) -> bool:
        """Apply new settings from the next attempt on; returns whether anything changed.

        The same settings again (every ingress health check hands them over) change nothing: no new HTTP
        client, no new concurrency bound. A replaced client is closed once the attempts that use it end.
        """
        if self._client is not None and (config, security) == (self.config, self._security):
            return False
        bound_changed = self._client is None or config.max_concurrent != self.config.max_concurrent
        self.config, self._security = config, security
        self._guard = UrlGuard(security)
        old, self._client = self._client, self._given_client or self._guard.client(follow_redirects=False)
        if bound_changed:
            self._slots = asyncio.Semaphore(config.max_concurrent)
        if old is not None and old is not self._client:
            self._retire(old)
        return True

    def _retire(self, client: httpx.AsyncClient) -> None:
        users = [job for job in self._jobs if not job.done()]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (built outside one): ``close`` closes it
            self._retired.append(client)
            return
        closing = loop.create_task(self._close_after(client, users))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_after(client: httpx.AsyncClient, users: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*users, return_exceptions=True)
        await client.aclose()

    @property
    def open_clients(self) -> int:
        """HTTP clients this deliverer holds open (1, plus replaced ones still finishing attempts)."""
        retired = [c for c in self._retired if not c.is_closed]
        return int(self._client is not None and not self._client.is_closed) + len(retired) + len(self._closing)

    async def run_once(self, limit: int = 500) -> int:
        """Attempt every delivery due now that is not already in flight, and wait for those attempts."""
        started = await self._start_due(limit)
        await asyncio.gather(*started)
        return len(started)

    async def run_forever(self) -> None:
        """Start due deliveries every ``poll_interval_s``; a slow receiver never holds up the others."""
        while True:
            try:
                await self._start_due(500)
            except Exception:  # a store blip: try again next round
                log.warning("webhook round failed", exc_info=True)
            await asyncio.sleep(self.config.poll_interval_s)

    async def _start_due(self, limit: int) -> list[asyncio.Task[None]]:
        due = [d for d in await self.store.outbox_due(self._clock(), limit) if d.id not in self._in_flight]
        started = []
        for delivery in due:
            self._in_flight.add(delivery.id)
            job = asyncio.create_task(self._bounded(delivery), name=f"webhook:{delivery.id}")
            job.add_done_callback(lambda _, i=delivery.id: self._in_flight.discard(i))
            started.append(job)
        self._jobs.update(started)
        for job in started:
            job.add_done_callback(self._jobs.discard)
        return started

    async def _bounded(self, delivery: Delivery) -> None:
        async with self._slots:
            try:
                await self.attempt(delivery)
            except Conflict:
                log.info("delivery %s changed during its attempt; its record was dropped", delivery.id)
            except Exception:  # a store blip while recording: the delivery stays due and is tried again
                log.warning("delivery %s: attempt not recorded", delivery.id, exc_info=True)

    async def attempt(self, delivery: Delivery) -> Delivery:
        """One attempt at ``delivery``; returns the stored record after it."""
        started = self._clock()
        t0 = time.monotonic()
        code, error, retry_after, permanent = await self._send(delivery)
        record = DeliveryAttempt(
            at=started, status_code=code, error=error, duration_ms=round((time.monotonic() - t0) * 1000, 1)
        )
        d = delivery.model_copy(deep=True)
        d.attempts = [*d.attempts, record][-MAX_ATTEMPTS_KEPT:]
        d.attempt_count += 1
        now = self._clock()
        if error is None:
            d.status, d.due_at = DeliveryStatus.delivered, None
        else:
            failures = sum(1 for a in d.attempts if a.at >= d.window_start and a.error is not None)
            next_at = now + self._backoff(failures, retry_after)
            if permanent or next_at > d.window_start + self.config.retry_window_s:
                d.status, d.due_at = DeliveryStatus.failed, None
            else:
                d.due_at = next_at
        return await self.store.outbox_put(d)

    async def _secret(self, tenant_id: str) -> str | None:
        """The tenant's own signing secret, else the server's (``webhooks.secret``)."""
        if tenant_id != DEFAULT_TENANT:
            try:
                own = (await self.store.tenant_get(tenant_id)).webhook_secret
            except NotFound:
                own = None
            if own:
                return own
        return self.config.secret.get_secret_value() if self.config.secret else None

    async def _send(self, d: Delivery) -> tuple[int | None, str | None, float | None, bool]:
        """(status code, error or None, Retry-After, permanent)."""
        try:
            await self._guard.check_async(d.url, "webhook_url")
        except GenPulseError as exc:
            return None, exc.message, None, True
        try:
            secret = await self._secret(d.tenant_id)
        except GenPulseError as exc:  # the store is down: try again later
            return None, f"signing secret unavailable: {exc.message}", None, False
        if secret is None:
            return None, "no signing secret: webhooks.secret is not configured", None, False
        body = d.body.encode()
        headers = signatures.headers(secret, d.id, int(self._clock()), body)
        headers["content-type"] = "application/json"
        headers["user-agent"] = "GenPulse-Webhooks/1"
        assert self._client is not None
        try:
            resp = await self._client.post(d.url, content=body, headers=headers, timeout=self.config.timeout_s)
        except GenPulseError as exc:  # the guarded transport refused the address it was about to connect to
            return None, exc.message, None, True
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300], None, False
        if 200 <= resp.status_code < 300:
            return resp.status_code, None, None, False
        retry_after = None
        with contextlib.suppress(ValueError):
            retry_after = float(resp.headers.get("retry-after", ""))
        return resp.status_code, f"receiver answered {resp.status_code}", retry_after, False

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        cap = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** max(0, failures - 1))
        delay = cap / 2 + self._rng() * cap / 2
        return min(max(delay, retry_after or 0.0), self.config.backoff_max_s)

    async def close(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, *self._closing, return_exceptions=True)
        for client in [*self._retired, self._client]:
            if client is not None:
                await client.aclose()
