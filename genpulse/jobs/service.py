"""TaskService: what the API does, independent of HTTP (the routes, in-cluster handles and pipelines share it).

It validates a request against its provider, stores the task (the 202 promise: once ``submit`` returns, the
task is in the store), hands it to the provider's worker pool (fire-and-forget; a lost hand-off is adopted by
a worker's reconcile loop), and implements wait, cancel and retry on top of the store's events. It owns the
store, the storage and the registry: routes call its methods and never reach past it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from genpulse.core.config import AppArgs
from genpulse.core.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, ProviderNotConfigured
from genpulse.core.schemas import DEFAULT_TENANT, Asset, Task, TaskRequest, TaskStatus, new_id, now
from genpulse.jobs.dispatch import Dispatcher
from genpulse.jobs.system import SystemReport, system_report
from genpulse.media.inputs import asset_ids
from genpulse.media.storage import AssetContent, Storage, content_of
from genpulse.providers.health import InstanceHealth, OutMark
from genpulse.providers.registry import Registry
from genpulse.tasks import TaskStore, mutate
from genpulse.tasks.outbox import DeliveryPublic
from genpulse.tasks.queue_stats import QueueStats, open_task_stats
from genpulse.tasks.sse import task_events
from genpulse.tasks.store import CLIENT_SCOPE, scoped_key, tenant_scope
from genpulse.tenants.admin import TenantService
from genpulse.tenants.auth import OPEN, Principal
from genpulse.tenants.billing import Billing, hold_for, is_priced
from genpulse.webhooks import manage
from genpulse.workflows.service import WorkflowService

log = logging.getLogger("genpulse.jobs.service")


Check = Callable[[], Awaitable[object]]


def _retry_fingerprint(task_id: str) -> str:
    """What defines a retry request for idempotency: the task it re-runs (its body is empty)."""
    return hashlib.sha256(json.dumps({"retry_of": task_id}, sort_keys=True).encode()).hexdigest()


def _key_space(tenant: str) -> str:
    """Callers' idempotency keys: the built-in tenant keeps the space it had before tenants existed."""
    return CLIENT_SCOPE if tenant == DEFAULT_TENANT else tenant_scope(tenant)


def _consume(done: asyncio.Future[object]) -> None:
    if not done.cancelled():
        done.exception()


@dataclass
class TaskService:
    args: AppArgs
    store: TaskStore
    storage: Storage
    registry: Registry
    dispatcher: Dispatcher
    checks: dict[str, Check] = field(default_factory=dict)
    limiters: Callable[[], dict[str, object]] = dict  # the rate-limited providers' limiters, by provider
    tenants: TenantService = field(init=False)
    workflows: WorkflowService = field(init=False)
    health: InstanceHealth = field(init=False)  # which instances model aliases route around now
    # ended tasks never change: a replica answers repeated reads of them from here (task id -> (task, when read))
    _ended: OrderedDict[str, tuple[Task, float]] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.tenants = TenantService(self.store)
        self.workflows = WorkflowService(self)
        self.health = InstanceHealth(self.limiters, self.args.server.route_health_ttl_s)

    async def submit(
        self,
        request: TaskRequest,
        idempotency_key: str | None = None,
        *,
        caller: Principal = OPEN,
        key_scope: str | None = None,
        billed: bool = True,
        fallbacks: Sequence[str] = (),
        fingerprint: str | None = None,
    ) -> tuple[Task, bool]:
        """Validate and store a task for ``caller``'s tenant; returns ``(task, created)``; ``created`` is False for
        an idempotent repeat. ``fallbacks``: providers the task may fail over to (a model alias's further routes),
        kept where they can run the same params at the same price (``_fallbacks``). ``fingerprint``: what makes a
        repeat of the key the same request (default: ``request``'s own); a model alias's request gives one made
        before its route was picked, so a repeat routed elsewhere is the same request.

        The key is stored in the tenant's own key space (``key_scope`` overrides it: pipelines give their steps
        ``CHILD_SCOPE``, which no caller reaches). A priced task holds its price in the same store write that
        creates it (``billed=False``: a pipeline's steps, which its own price covers)."""
        key = idempotency_key or request.idempotency_key
        if idempotency_key and request.idempotency_key and idempotency_key != request.idempotency_key:
            raise InvalidRequest(
                "Idempotency-Key header and idempotency_key field disagree",
                details={"field": "idempotency_key"},
            )
        tenant = caller.tenant()
        self._check_scopes(caller, request.provider, request.task_type)
        provider = self.registry.get(request.provider)
        if not provider.is_configured():
            raise ProviderNotConfigured(
                f"provider {provider.name!r} is not configured (see GENPULSE_PROVIDERS__{provider.name.upper()}__*)",
                details={"field": "provider"},
            )
        params = provider.validate(request.task_type, request.params).model_dump(mode="json")
        await self._check_assets(params, tenant)
        if request.webhook_url:
            manage.check_target(self.args, request.webhook_url, await self._tenant_secret(tenant))
        billing = self._billing(request.provider, request.task_type, params) if billed else None
        scoped = scoped_key(key_scope or _key_space(tenant), key) if key else None
        routed = request.model_copy(update={"params": params})
        task = self._new_task(routed, scoped, caller=caller, billing=billing, fingerprint=fingerprint)
        task.fallbacks = self._fallbacks(request.provider, request.task_type, params, fallbacks, caller)
        return await self._create(task, caller)

    def _fallbacks(
        self, provider: str, task_type: str, params: dict[str, Any], names: Sequence[str], caller: Principal
    ) -> list[str]:
        """Those of ``names`` a task of ``provider`` can fail over to: configured, in the caller's scopes, taking
        the same params and priced the same (the hold taken at submit stays right: no credit moves at failover)."""
        price = self.args.pricing.get(provider, {}).get(task_type)
        kept: list[str] = []
        for name in dict.fromkeys(names):
            if name == provider or name not in self.registry.names():
                continue
            other = self.registry.get(name)
            if not other.is_configured() or self.args.pricing.get(name, {}).get(task_type) != price:
                continue
            if caller.key is not None and not caller.key.scopes.allows(name, task_type):
                continue
            try:
                other.validate(task_type, params)
            except InvalidRequest:
                continue
            kept.append(name)
        return kept

    async def _create(self, task: Task, caller: Principal) -> tuple[Task, bool]:
        limit = caller.key.limits.max_concurrent_tasks if caller.key else None
        stored, created = await self.store.create(task, max_open=limit)
        if created:
            try:
                await self.dispatcher.dispatch(stored)
            except Exception:  # the task is safe in the store; a worker's reconcile loop will adopt it
                log.warning("dispatch of %s failed; left for reconcile", stored.id, exc_info=True)
        return stored, created

    def _check_scopes(self, caller: Principal, provider: str, task_type: str) -> None:
        if caller.key is not None and not caller.key.scopes.allows(provider, task_type):
            raise PermissionDenied(
                f"this API key may not submit {provider} {task_type} tasks",
                details={"provider": provider, "task_type": task_type},
            )

    def _billing(self, provider: str, task_type: str, params: dict[str, Any]) -> Billing | None:
        if self.args.billing.refuse_unpriced and not is_priced(self.args.pricing, provider, task_type):
            raise InvalidRequest(
                f"{provider} {task_type} tasks have no price on this server, and unpriced tasks are refused",
                details={"field": "task_type"},
            )
        return hold_for(self.args.pricing, provider, task_type, params)

    async def _check_assets(self, params: dict[str, Any], tenant: str) -> None:
        """Every asset id in ``params`` must be the tenant's own (another tenant's is as unknown as a made-up one)."""
        for asset_id in asset_ids(params):
            try:
                asset = await asyncio.to_thread(self.storage.get, asset_id)
            except NotFound:
                asset = None
            if asset is None or asset.tenant_id != tenant:
                raise InvalidRequest(f"unknown asset {asset_id}", details={"field": "params", "asset": asset_id})

    async def _tenant_secret(self, tenant: str) -> str | None:
        return None if tenant == DEFAULT_TENANT else await self.tenants.signing_secret(tenant)

    async def _owned(self, task_id: str, tenant: str | None) -> Task:
        """The task, if ``tenant`` (None: any) owns it; another tenant's task is as unknown as a made-up id."""
        task = await self._read(task_id)
        if tenant is not None and task.tenant_id != tenant:
            raise NotFound(f"task {task_id} not found")
        return task

    async def _read(self, task_id: str) -> Task:
        """The task, from the small cache of ended tasks (``server.terminal_cache_size``) or the store."""
        size, ttl = self.args.server.terminal_cache_size, self.args.server.terminal_cache_ttl_s
        hit = self._ended.get(task_id)
        if hit is not None:
            if time.monotonic() - hit[1] < ttl:
                self._ended.move_to_end(task_id)
                return hit[0]
            del self._ended[task_id]  # bounded staleness: a store that lost its data, retention
        task = await self.store.get(task_id)
        if size and task.is_terminal:
            self._ended[task_id] = (task, time.monotonic())
            while len(self._ended) > size:
                self._ended.popitem(last=False)
        return task

    async def vendor_callback(self, provider: str, task_id: str, token: str) -> bool:
        """A vendor's callback for ``task_id`` (``genpulse.providers.callbacks``): the worker driving the task polls
        its vendor job now. Returns False for a task that already ended (nothing to do). Anything else (callbacks
        off, a provider without them, a wrong token, an unknown task, another provider's task) is one and the same
        ``NotFound``, so a caller learns nothing from it."""
        unknown = NotFound("not found")
        try:
            callbacks = getattr(self.registry.get(provider), "callbacks", None)
        except InvalidRequest:
            raise unknown from None
        if callbacks is None or not callbacks.verify(provider, task_id, token):
            raise unknown
        try:
            task = await self._read(task_id)
        except NotFound:
            raise unknown from None
        if task.provider != provider:
            raise unknown
        if task.is_terminal:
            return False
        await self.dispatcher.wake(task)
        return True

    async def get(self, task_id: str, wait: float = 0, *, tenant: str | None = None) -> Task:
        """The task; with ``wait`` > 0, returns as soon as it is terminal or ``wait`` seconds (capped) passed."""
        task = await self._owned(task_id, tenant)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(wait, 0.0), self.args.server.max_wait_s)
        while not task.is_terminal:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            task = await self.store.wait(task_id, task.version, remaining)
        return task

    async def cancel(self, task_id: str, *, tenant: str | None = None) -> Task:
        await self._owned(task_id, tenant)

        def to_canceled(t: Task) -> Task:
            if t.is_terminal:
                raise Conflict(f"task {task_id} is already {t.status.value}", details={"status": t.status.value})
            # the owner stays on the record: if its worker is down, it cancels the vendor job when it is back
            t.status, t.finished_at, t.lease_expires_at = TaskStatus.canceled, now(), None
            return t

        task = await mutate(self.store, task_id, to_canceled)
        assert task is not None
        try:
            await self.dispatcher.cancel(task)
        except Exception:  # the record is canceled; the worker's final write will be refused anyway
            log.warning("cancel notification for %s failed", task_id, exc_info=True)
        return task

    async def retry(
        self, task_id: str, idempotency_key: str | None = None, *, caller: Principal = OPEN
    ) -> tuple[Task, bool]:
        """Re-run a failed or canceled task as a new task (terminal records never change); links both ways.

        Returns ``(task, created)``. With ``idempotency_key`` the new task carries the key and the fingerprint of
        "a retry of ``task_id``": a repeat returns the task the first call made (``created`` False, nothing
        dispatched), and the key on any other request (another task's retry, a submit) is a ``Conflict``.
        """
        tenant = caller.tenant()
        old = await self._owned(task_id, tenant)
        if old.status not in (TaskStatus.failed, TaskStatus.canceled):
            raise Conflict(
                f"only failed or canceled tasks can be retried; {task_id} is {old.status.value}",
                details={"status": old.status.value},
            )
        budget = (old.deadline_at - old.created_at) if old.deadline_at else self.args.workers.task_deadline_s
        request = TaskRequest(
            provider=old.provider,
            task_type=old.task_type,
            params=old.params,  # validated when the first task was made
            priority=old.priority,
            webhook_url=old.webhook_url,
            metadata=old.metadata,
            deadline_s=budget,
        )
        self._check_scopes(caller, old.provider, old.task_type)
        billing = (
            self._billing(old.provider, old.task_type, old.params)
            if old.billing or not old.metadata.get("parent")
            else None
        )
        key = scoped_key(_key_space(tenant), idempotency_key) if idempotency_key else None  # the submit's key space
        task = self._new_task(
            request, key, retry_of=old.id, fingerprint=_retry_fingerprint(old.id), caller=caller, billing=billing
        )
        return await self._create(task, caller)

    def _new_task(
        self,
        request: TaskRequest,
        key: str | None,
        *,
        caller: Principal,
        billing: Billing | None,
        retry_of: str | None = None,
        fingerprint: str | None = None,
    ) -> Task:
        """A fresh queued task for ``request`` (whose params are already validated); ``fingerprint`` defaults to
        the request's."""
        created_at = now()
        return Task(
            id=new_id("tsk"),
            provider=request.provider,
            task_type=request.task_type,
            status=TaskStatus.queued,
            params=request.params,
            priority=request.priority,
            webhook_url=request.webhook_url,
            metadata=request.metadata,
            created_at=created_at,
            deadline_at=created_at + (request.deadline_s or self.args.workers.task_deadline_s),
            idempotency_key=key,
            fingerprint=fingerprint or request.fingerprint(),
            retry_of=retry_of,
            tenant_id=caller.tenant(),
            key_id=caller.key.id if caller.key else None,
            billing=billing,
        )

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        provider: str | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Task], str | None]:
        """Tasks, newest first, filtered (``tenant``: that tenant's only); returns the page and the next cursor."""
        return await self.store.list(status=status, provider=provider, tenant=tenant, limit=limit, cursor=cursor)

    async def events(self, task_id: str, after: int = 0, *, tenant: str | None = None) -> AsyncIterator[bytes]:
        """The task's Server-Sent Events after sequence number ``after``; ``NotFound`` before the stream starts."""
        await self._owned(task_id, tenant)
        return task_events(self.store, task_id, after=after, heartbeat_s=self.args.server.sse_heartbeat_s)

    async def webhook_deliveries(self, task_id: str, *, tenant: str | None = None) -> list[DeliveryPublic]:
        await self._owned(task_id, tenant)
        return await manage.deliveries(self.store, task_id)

    async def redeliver_webhook(self, task_id: str, *, tenant: str | None = None) -> DeliveryPublic:
        await self._owned(task_id, tenant)
        return await manage.redeliver(self.store, task_id)

    def asset(self, asset_id: str, *, tenant: str | None = None) -> Asset:
        """An asset's metadata, if ``tenant`` (None: any) owns it. Blocking."""
        asset = self.storage.get(asset_id)
        if tenant is not None and asset.tenant_id != tenant:
            raise NotFound(f"asset {asset_id} not found")
        return asset

    def asset_content(self, asset_id: str, *, tenant: str | None = None) -> AssetContent:
        """Where to serve an asset's bytes from (``NotFound`` for an unknown id or another tenant's). Blocking."""
        self.asset(asset_id, tenant=tenant)
        return content_of(self.storage, asset_id)

    def save_upload(self, fh: BinaryIO, content_type: str, *, tenant: str = DEFAULT_TENANT) -> Asset:
        """Store an upload already checked by the API (size, sniffed type). Blocking: call in a thread."""
        return self.storage.put_file(fh, content_type, tenant)

    async def queue_stats(self) -> QueueStats:
        return await open_task_stats(self.store)

    def provider_names(self) -> list[str]:
        return self.registry.names()

    async def providers(self) -> list[dict[str, Any]]:
        """Each provider's ``info``, and ``out``: why and for how long model aliases route around it (or None)."""
        out = await self.health.describe()
        return [{**p.info(), "out": out.get(p.name)} for p in self.registry.all()]

    async def out_instances(self) -> dict[str, OutMark]:
        """The provider instances out now (``genpulse.providers.health``), for routing a model alias."""
        return await self.health.out()

    def provider_schemas(self, name: str) -> dict[str, Any]:
        provider = self.registry.get(name)
        return {"provider": provider.name, "task_types": provider.schemas()}

    async def system(self) -> SystemReport:
        """Each provider's limiter, worker pool and open queue, and the storage backend (the admin's System page)."""
        return await system_report(
            self.registry.names(),
            self.limiters(),
            self.dispatcher.pool_stats(),
            self.queue_stats(),
            self.args.storage,
            type(self.store).__name__,
        )

    async def readiness(self) -> dict[str, str]:
        """Run every check; returns ``{name: "ok" | error}``."""

        async def one(check: Check) -> str:
            # Its own task, whose outcome is always retrieved: a probe that disconnects cancels us, and a check
            # that ends with an error while being cancelled must not be logged as "never retrieved".
            running = asyncio.ensure_future(check())
            running.add_done_callback(_consume)
            try:
                await asyncio.wait_for(asyncio.shield(running), timeout=5)
                return "ok"
            except TimeoutError:
                running.cancel()
                return "TimeoutError: no answer in 5 s"
            except asyncio.CancelledError:
                running.cancel()
                raise
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"[:300]

        names = sorted(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))
