"""Building a provider's runner from config: shared by the ProviderWorker actor and in-process hosts."""

from __future__ import annotations

from functools import partial

import httpx

from genpulse.config import AppArgs
from genpulse.providers.base import Provider
from genpulse.providers.cloud import CloudProvider
from genpulse.runners import DiffusionRunner, Generate, Runner
from genpulse.storage import Storage
from genpulse.vendor_runner import Limiter, VendorRunner, download_output


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
) -> Runner:
    """The runner for ``provider``: local diffusion needs ``generate``; cloud vendors need ``limiter``."""
    if isinstance(provider, CloudProvider):
        if limiter is None:
            raise ValueError(f"provider {provider.name!r} needs a rate limiter")
        http = client or vendor_http_client(provider)
        rehost = partial(download_output, http, storage.put, max_bytes=provider.config.max_output_bytes)
        return VendorRunner(provider, http, limiter, rehost)
    if generate is None:
        raise ValueError(f"provider {provider.name!r} needs a generate function")
    return DiffusionRunner(generate)
