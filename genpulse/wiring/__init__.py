"""The composition root: ``Wiring`` builds, once per process, everything GenPulse runs on.

Every process that hosts GenPulse (an ingress replica, a ProviderWorker actor, the in-process host of tests
and tools) makes one ``Wiring(args, environment)`` and takes what it needs from it: the task store, the
storage, the provider registry, the dispatcher, the ``TaskService`` and each provider's runner. The
``Environment`` is the only part that differs between hosts: how this process reaches the shared parts
(the store, the workers, the rate limiters, the diffusion engine). ``deployments/cluster.py`` has the Ray
one, ``genpulse.wiring.in_process`` the single-process one. Everything is built lazily on first use, so a
worker actor that runs one vendor never builds a dispatcher, and nothing needs a running cluster to import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from genpulse.core.config import AppArgs
from genpulse.core.url_guard import UrlGuard
from genpulse.jobs.dispatch import Dispatcher
from genpulse.jobs.runners import Generate, Runner
from genpulse.jobs.service import TaskService
from genpulse.media.storage import Storage, open_storage
from genpulse.providers.cloud import CloudProvider
from genpulse.providers.registry import Registry
from genpulse.providers.vendor_runner import Limiter
from genpulse.tasks import TaskStore
from genpulse.tasks.store_watch import StoreWatch

Check = Callable[[], Awaitable[object]]


class Environment(Protocol):
    """How one kind of host reaches the parts of GenPulse that are shared between processes."""

    def open_store(self, args: AppArgs) -> TaskStore: ...

    def dispatcher(self, wiring: Wiring) -> Dispatcher: ...

    def limiter(self, provider: CloudProvider) -> Limiter: ...

    def diffusion(self) -> Generate: ...

    def checks(self, wiring: Wiring) -> dict[str, Check]:
        """Readiness checks beyond the store and storage (worker pools, limiters, diffusion replicas)."""
        ...


class Wiring:
    def __init__(self, args: AppArgs, environment: Environment) -> None:
        self.args, self.environment = args, environment
        self.registry = Registry(args)
        self.store = environment.open_store(args)
        self.storage: Storage = open_storage(args.storage)
        self.url_guard = UrlGuard(args.security)
        self._dispatcher: Dispatcher | None = None
        self._service: TaskService | None = None
        self._limiters: dict[str, Limiter] = {}

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            self._dispatcher = self.environment.dispatcher(self)
        return self._dispatcher

    @property
    def service(self) -> TaskService:
        """The process's one TaskService (routes, handles and pipeline steps all use it)."""
        if self._service is None:
            self._service = TaskService(
                self.args,
                self.store,
                self.storage,
                self.registry,
                self.dispatcher,
                checks=self._checks(),
                limiters=lambda: {p.name: self.limiter(p) for p in self.registry.rate_limited() if p.is_configured()},
            )
        return self._service

    def runner(self, provider: str) -> Runner:
        """A runner for ``provider``'s tasks, built by the registry with this process's parts."""
        return self.registry.runner(provider, self)

    def limiter(self, provider: CloudProvider) -> Limiter:
        if provider.name not in self._limiters:
            self._limiters[provider.name] = self.environment.limiter(provider)
        return self._limiters[provider.name]

    def diffusion(self) -> Generate:
        return self.environment.diffusion()

    def child_tasks(self) -> TaskService:
        return self.service

    def _checks(self) -> dict[str, Check]:
        storage = self.storage

        async def storage_ready() -> None:
            storage.ping()

        store = StoreWatch(self.store, self.args.store.data_loss_alert_s)  # also: did the store lose its data?
        return {"store": store.check, "storage": storage_ready, **self.environment.checks(self)}
