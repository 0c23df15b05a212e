"""The provider registry: name → provider class, *and* how a task of that provider is run.

Each ``Entry`` knows its provider's class and its runner factory, and says what the provider needs from the
cluster (a rate limiter, the diffusion deployment). Nothing outside this module compares provider names or
kinds: hosts ask the registry (``runner``, ``rate_limited``, ``needs_diffusion``). Adding a vendor is its module
under ``genpulse/providers/vendors/`` and one line in ``ENTRIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Protocol

from genpulse.core.config import AppArgs
from genpulse.core.errors import ConfigError, InvalidRequest
from genpulse.diffusion.diffusers_provider import DiffusersProvider
from genpulse.diffusion.diffusion_runner import DiffusionRunner
from genpulse.jobs.runners import Generate, Runner
from genpulse.media.inputs import InputResolver, resolve_asset_refs
from genpulse.media.rehost import output_client, rehost_output
from genpulse.media.storage import Storage
from genpulse.pipelines.pipeline_provider import PipelineProvider
from genpulse.pipelines.pipeline_runner import ChildTasks, PipelineRunner
from genpulse.providers.cloud import CloudProvider
from genpulse.providers.provider import Provider
from genpulse.providers.vendor_runner import Limiter, VendorRunner, vendor_http_client
from genpulse.providers.vendors.baidu import BaiduProvider
from genpulse.providers.vendors.comfyui import ComfyUIProvider
from genpulse.providers.vendors.dashscope import DashScopeProvider
from genpulse.providers.vendors.kling import KlingProvider
from genpulse.providers.vendors.minimax import MiniMaxProvider
from genpulse.providers.vendors.openai import OpenAIProvider
from genpulse.providers.vendors.tencent import TencentProvider
from genpulse.providers.vendors.volcengine import VolcengineProvider

if TYPE_CHECKING:
    from genpulse.core.url_guard import UrlGuard


class RunnerDeps(Protocol):
    """What a runner factory may ask of the process that hosts the runner (``genpulse.wiring.Wiring``)."""

    args: AppArgs
    storage: Storage
    url_guard: UrlGuard

    def limiter(self, provider: CloudProvider) -> Limiter: ...

    def diffusion(self) -> Generate: ...

    def child_tasks(self) -> ChildTasks: ...


def _inputs(deps: RunnerDeps) -> InputResolver:
    """Image inputs resolved against this process's storage, through the SSRF guard."""
    return InputResolver(deps.storage, deps.url_guard, None, deps.args.storage.max_input_bytes)


def _vendor_runner(provider: Provider, deps: RunnerDeps) -> Runner:
    assert isinstance(provider, CloudProvider)
    http = vendor_http_client(provider)  # API calls go to the configured vendor; outputs through the SSRF guard
    downloads = output_client(provider.config, deps.args.security)
    rehost = partial(rehost_output, downloads, max_bytes=provider.config.max_output_bytes)
    inputs = _inputs(deps)
    prepare = partial(resolve_asset_refs, resolver=inputs)
    return VendorRunner(provider, http, deps.limiter(provider), rehost, prepare=prepare)


def _diffusion_runner(provider: Provider, deps: RunnerDeps) -> Runner:
    assert isinstance(provider, DiffusersProvider)
    return DiffusionRunner(deps.diffusion(), provider.catalog, _inputs(deps))


def _pipeline_runner(provider: Provider, deps: RunnerDeps) -> Runner:
    assert isinstance(provider, PipelineProvider)
    inputs = _inputs(deps)
    return PipelineRunner(provider, deps.child_tasks, inputs, max_wait_s=deps.args.server.max_wait_s)


@dataclass(frozen=True)
class Entry:
    provider: type[Provider]
    runner: Callable[[Provider, RunnerDeps], Runner]
    rate_limited: bool = False  # a RateLimiter per provider (vendor calls and job slots)
    needs_diffusion: bool = False  # tasks run on the app's DiffusionDeployment


def _vendor(cls: type[CloudProvider]) -> Entry:
    return Entry(cls, _vendor_runner, rate_limited=True)


ENTRIES: dict[str, Entry] = {
    DiffusersProvider.name: Entry(DiffusersProvider, _diffusion_runner, needs_diffusion=True),
    PipelineProvider.name: Entry(PipelineProvider, _pipeline_runner),
    BaiduProvider.name: _vendor(BaiduProvider),
    ComfyUIProvider.name: _vendor(ComfyUIProvider),
    DashScopeProvider.name: _vendor(DashScopeProvider),
    KlingProvider.name: _vendor(KlingProvider),
    MiniMaxProvider.name: _vendor(MiniMaxProvider),
    OpenAIProvider.name: _vendor(OpenAIProvider),
    TencentProvider.name: _vendor(TencentProvider),
    VolcengineProvider.name: _vendor(VolcengineProvider),
}


def instances(args: AppArgs) -> dict[str, Entry]:
    """Entries for ``providers.<name>.kind``: a vendor's class under another name, so everything keyed by the
    provider's name (its config, limiter, workers, metrics) is the instance's own. ``ConfigError`` naming the
    field for a kind that is not a vendor, or a ``kind`` on a built-in name."""
    vendors = sorted(name for name, entry in ENTRIES.items() if entry.rate_limited)
    found: dict[str, Entry] = {}
    for name, config in args.providers.items():
        if config.kind is None or not config.enabled:
            continue
        if name in ENTRIES:
            raise ConfigError(f"providers.{name}.kind: {name!r} is a provider itself; name the instance otherwise")
        if config.kind not in vendors:
            raise ConfigError(f"providers.{name}.kind: {config.kind!r} is not a vendor provider (one of {vendors})")
        base = ENTRIES[config.kind]
        cls = type(f"{base.provider.__name__}[{name}]", (base.provider,), {"name": name})
        found[name] = replace(base, provider=cls)
    return found


class Registry:
    """The providers enabled by config, instantiated once per process (by ``genpulse.wiring.Wiring``)."""

    def __init__(self, args: AppArgs) -> None:
        self._entries = {name: e for name, e in ENTRIES.items() if args.provider(name).enabled}
        self._entries |= instances(args)
        self._providers: dict[str, Provider] = {}
        for name, entry in self._entries.items():
            self._providers[name] = entry.provider(args)
            if isinstance(self._providers[name], PipelineProvider):  # its steps are other providers' tasks
                self._providers[name].bind_registry(self.get)  # type: ignore[attr-defined]
        self._check_aliases(args)

    def _check_aliases(self, args: AppArgs) -> None:
        """Every model alias's routes name a provider that exists and, when enabled, runs the alias's task type;
        a typo fails the deploy instead of hiding the alias."""
        known = set(ENTRIES) | {name for name, config in args.providers.items() if config.kind}
        for alias_name, alias in args.models.items():
            for route in alias.targets():
                if route.provider not in known:
                    raise ConfigError(
                        f"models.{alias_name}: unknown provider {route.provider!r} (one of {sorted(known)})"
                    )
                provider = self._providers.get(route.provider)
                if provider is not None and alias.task_type not in provider.param_models():
                    raise ConfigError(
                        f"models.{alias_name}: {route.provider} has no task type {alias.task_type!r} "
                        f"(one of {sorted(provider.param_models())})"
                    )

    def names(self) -> list[str]:
        return sorted(self._providers)

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            raise InvalidRequest(
                f"unknown provider {name!r}", details={"field": "provider", "valid": self.names()}
            ) from None

    def all(self) -> list[Provider]:
        return [self._providers[n] for n in self.names()]

    def runner(self, name: str, deps: RunnerDeps) -> Runner:
        """A new runner for ``name``'s tasks, wired to ``deps``."""
        return self._entries[name].runner(self.get(name), deps)

    def rate_limited(self) -> list[CloudProvider]:
        """The providers that have a rate limiter (one per provider, shared by the cluster)."""
        return [p for n, p in sorted(self._providers.items()) if self._entries[n].rate_limited]  # type: ignore[misc]

    def diffusion_provider(self) -> str | None:
        """The provider whose tasks run on the app's DiffusionDeployment (its models get built-in aliases)."""
        return next((name for name, e in self._entries.items() if e.needs_diffusion), None)

    def needs_diffusion(self) -> bool:
        """Whether any enabled provider runs on the app's DiffusionDeployment."""
        return any(e.needs_diffusion for e in self._entries.values())
