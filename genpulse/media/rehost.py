"""Re-hosting: every vendor output becomes our Asset before a task succeeds (vendor URLs expire in hours).

``output_client(provider_config, security)`` is the client downloads go through: the SSRF guard
(``genpulse.core.url_guard``, ``security.*``) checks every hop, redirects included (at most ``MAX_REDIRECTS``),
except on the origins the operator configured for the vendor (``base_url``, ``endpoints``, ``servers``: a
download there is a call to the vendor itself); vendor API calls keep their own client. A vendor handing back a
URL that points into our network (directly or by a redirect) fails the task instead of fetching it.

``rehost(client, storage, url, max_bytes=..., content_type_hint=...)`` downloads a URL as a stream into a spooled
temporary file (never more than ``max_bytes``), retrying transport errors, 408, 429 and 5xx with exponential
backoff, and stores it. ``rehost_bytes`` stores inline output (base64 replies). ``rehost_output`` does either
for a ``VendorOutput`` and is what ``VendorRunner`` calls. The content type is sniffed from the bytes, then
taken from the hint, then from the reply's header.

Errors, translated here: an output over the cap, a 4xx (an expired or wrong URL) or an empty body fail the
task (``ProviderError``/``MalformedReply``, permanent); retries exhausted raise ``ProviderServerError`` or
``ProviderTimeout`` (retryable: the worker retries the task, which polls the checkpointed vendor job again).
A URL the guard refuses, or more redirects than the client follows, fail the task (``ProviderError``, permanent);
storage failures raise ``ServiceUnavailable``.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO, Any

import httpx

from genpulse.core.config import ProviderConfig, SecurityConfig
from genpulse.core.errors import InvalidRequest, MalformedReply, ProviderError, ProviderServerError, ProviderTimeout
from genpulse.core.schemas import Asset
from genpulse.core.url_guard import UrlGuard
from genpulse.media.sniff import SNIFF_BYTES, base_type, sniff
from genpulse.media.storage import Storage
from genpulse.providers.cloud import VendorOutput

Sleep = Callable[[float], Awaitable[Any]]
_KIND_TYPES = {"image": "image/png", "video": "video/mp4", "audio": "audio/mpeg"}
MAX_REDIRECTS = 5


def output_client(config: ProviderConfig, security: SecurityConfig) -> httpx.AsyncClient:
    """The SSRF-guarded client that downloads one vendor's outputs (see the module docstring)."""
    configured = [config.base_url, *config.endpoints.values(), *config.servers]
    guard = UrlGuard(security, trusted_origins=[u for u in configured if u])
    return guard.pooled_client(
        config.max_connections,
        timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s), pool=None),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )


class _Retry(Exception):
    def __init__(self, error: ProviderError, delay: float | None = None) -> None:
        self.error, self.delay = error, delay


def _content_type(head: bytes, *candidates: str | None) -> str:
    for candidate in (sniff(head), *map(base_type, candidates)):
        if candidate:
            return candidate
    return "application/octet-stream"


async def rehost_bytes(storage: Storage, data: bytes, content_type_hint: str | None = None) -> Asset:
    if not data:
        raise MalformedReply("vendor output is empty")
    return await asyncio.to_thread(storage.put, data, _content_type(data[:SNIFF_BYTES], content_type_hint))


async def rehost(
    client: httpx.AsyncClient,
    storage: Storage,
    url: str,
    *,
    max_bytes: int,
    content_type_hint: str | None = None,
    attempts: int = 3,
    backoff_s: float = 0.5,
    sleep: Sleep = asyncio.sleep,
) -> Asset:
    for attempt in range(1, attempts + 1):
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as sink:
            try:
                header_type = await _download(client, url, sink, max_bytes)
            except _Retry as retry:
                if attempt == attempts:
                    raise retry.error from None
                await sleep(max(retry.delay or 0.0, backoff_s * 2 ** (attempt - 1)))
                continue
            sink.seek(0)
            content_type = _content_type(sink.read(SNIFF_BYTES), content_type_hint, header_type)
            sink.seek(0)
            return await asyncio.to_thread(storage.put_file, sink, content_type)  # type: ignore[arg-type]
    raise AssertionError("unreachable")


async def rehost_output(
    client: httpx.AsyncClient, storage: Storage, output: VendorOutput, *, max_bytes: int, **retry: Any
) -> Asset:
    hint = output.content_type or _KIND_TYPES.get(output.kind)
    if output.data is not None:
        if len(output.data) > max_bytes:
            raise ProviderError(f"vendor output is larger than {max_bytes} bytes")
        return await rehost_bytes(storage, output.data, hint)
    if not output.url:
        raise MalformedReply("vendor output has neither data nor a URL")
    return await rehost(client, storage, output.url, max_bytes=max_bytes, content_type_hint=hint, **retry)


async def _download(client: httpx.AsyncClient, url: str, sink: IO[bytes], max_bytes: int) -> str | None:
    """Stream ``url`` into ``sink``; returns the reply's content type. Raises ``_Retry`` for transient failures."""
    where = f"output download {httpx.URL(url).copy_with(query=None)}"  # no signature in messages
    try:
        async with client.stream("GET", url) as response:
            status = response.status_code
            if status in (408, 429) or status >= 500:
                retry_after = response.headers.get("retry-after", "")
                delay = float(retry_after) if retry_after.isdigit() else None
                raise _Retry(ProviderServerError(f"{where}: HTTP {status}", provider_code=str(status)), delay)
            if status >= 300:
                raise ProviderError(
                    f"{where}: HTTP {status} (the vendor URL may have expired)", provider_code=str(status)
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ProviderError(f"{where}: output is {declared} bytes, over the {max_bytes} byte cap")
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ProviderError(f"{where}: output is over the {max_bytes} byte cap")
                sink.write(chunk)
            if size == 0:
                raise MalformedReply(f"{where}: the body is empty")
            return response.headers.get("content-type")
    except InvalidRequest as exc:  # the SSRF guard refused this URL or a redirect hop
        reason = exc.details.get("reason") if isinstance(exc.details, dict) else exc.message
        raise ProviderError(f"{where}: refused by the SSRF guard: {reason}") from None
    except httpx.TooManyRedirects:
        raise ProviderError(f"{where}: more than {client.max_redirects} redirects") from None
    except httpx.TimeoutException as exc:
        raise _Retry(ProviderTimeout(f"{where}: timed out ({type(exc).__name__})")) from None
    except httpx.TransportError as exc:
        raise _Retry(ProviderServerError(f"{where}: {type(exc).__name__}: {exc}")) from None
