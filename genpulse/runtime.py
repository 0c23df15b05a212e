"""Building a provider's runner from config: shared by the ProviderWorker actor and in-process hosts."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import httpx

from genpulse.config import AppArgs
from genpulse.inputs import InputResolver, resolve_asset_refs
from genpulse.pipelines.provider import PipelineProvider
from genpulse.pipelines.runner import PipelineRunner
from genpulse.providers.base import Provider
from genpulse.providers.cloud import CloudProvider
from genpulse.rehost import rehost_output
from genpulse.runners import DiffusionRunner, Generate, Runner
from genpulse.security import UrlGuard
from genpulse.storage import Storage
from genpulse.vendor_runner import Limiter, VendorRunner

if TYPE_CHECKING:
    from genpulse.service import TaskService


def vendor_http_client(provider: CloudProvider) -> httpx.AsyncClient:
    timeout = provider.config.timeout_s
    return httpx.AsyncClient(
        # no pool timeout: waiting for a free connection is queueing (the limiter bounds it), not a vendor failure
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout), pool=None),
        limits=httpx.Limits(max_connections=provider.config.max_connections, max_keepalive_connections=20),
        follow_redirects=True,
    )


def build_runner(
    provider: Provider,
    args: AppArgs,
    storage: Storage,
    *,
    limiter: Limiter | None = None,
    generate: Generate | None = None,
    client: httpx.AsyncClient | None = None,
    service: Callable[[], TaskService] | None = None,
) -> Runner:
    """The runner for ``provider``: local diffusion needs ``generate``; cloud vendors need ``limiter``."""
    if isinstance(provider, CloudProvider):
        if limiter is None:
            raise ValueError(f"provider {provider.name!r} needs a rate limiter")
        http = client or vendor_http_client(provider)
        rehost = partial(rehost_output, http, storage, max_bytes=provider.config.max_output_bytes)
        inputs = InputResolver(storage, UrlGuard(args.security), None, args.storage.max_input_bytes)
        return VendorRunner(provider, http, limiter, rehost, prepare=partial(resolve_asset_refs, resolver=inputs))
    if isinstance(provider, PipelineProvider):
        if service is None:
            raise ValueError("the pipeline provider needs the task service (it submits its steps as tasks)")
        inputs = InputResolver(storage, UrlGuard(args.security), None, args.storage.max_input_bytes)
        return PipelineRunner(provider, service, inputs)
    if generate is None:
        raise ValueError(f"provider {provider.name!r} needs a generate function")
    return DiffusionRunner(generate)
