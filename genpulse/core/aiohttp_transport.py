"""AiohttpTransport: httpx's client API over aiohttp's connection pool, for vendor API calls and output downloads.

Every vendor module speaks httpx (requests, responses, signing, redirects, timeouts), but httpx's own transport
(httpcore over anyio) is the worker's largest CPU cost: measured on this repository's box, a small JSON
exchange costs ~2.5 ms of CPU through httpx's pool against ~0.2 ms through aiohttp's (client and server in one
process, 100 in flight), and in the submit storm httpx/httpcore took half of the worker's samples. This transport
keeps the httpx layer (``httpx.AsyncClient`` builds each request, follows redirects, decodes the body) and sends
the bytes with an ``aiohttp`` session. It carries the vendor API clients (operator-configured endpoints) and,
with the SSRF guard's resolver and per-hop check, the downloads of vendor outputs (``UrlGuard.pooled_client``).

Failures keep httpx's meaning, on which "submitted at most once" rests (``providers/http.py::transport_error``):
only a connection that could not be made is ``httpx.ConnectError`` / ``httpx.ConnectTimeout`` (the request was
never sent); anything after the connection was made (a read timeout, a dropped or garbled reply) is a read or
protocol error: the vendor may have the request. aiohttp itself resends a request whose kept-alive connection
turned out closed only for idempotent methods (GET, DELETE: polls, cancels), never a submit's POST.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import aiohttp.abc
import httpx

CHUNK = 64 * 1024


class AiohttpTransport(httpx.AsyncBaseTransport):
    """``resolver``: how hosts are resolved (the SSRF guard's checked addresses, ``genpulse.core.url_guard``);
    ``check``: called with each request's URL before it is sent (every hop of a redirect chain)."""

    def __init__(
        self,
        max_connections: int = 100,
        keepalive_s: float = 5.0,
        *,
        resolver: Callable[[], aiohttp.abc.AbstractResolver] | None = None,
        check: Callable[[httpx.URL], object] | None = None,
    ) -> None:
        self._max, self._keepalive, self._resolver, self._check = max_connections, keepalive_s, resolver, check
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # made on first use: it needs the running loop
            resolver = self._resolver() if self._resolver is not None else None
            connector = aiohttp.TCPConnector(limit=self._max, keepalive_timeout=self._keepalive, resolver=resolver)
            # httpx decodes the body (Content-Encoding) and sets every header itself
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._check is not None:
            self._check(request.url)
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
        )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        body = await request.aread()
        try:
            reply = await self._open().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,  # httpx follows redirects itself, one request per hop
                timeout=timeout,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        except Exception as exc:
            raise _translate(exc, request) from exc
        return httpx.Response(
            reply.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply.raw_headers],
            stream=_Body(reply, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _Body(httpx.AsyncByteStream):
    def __init__(self, reply: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._reply, self._request = reply, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._reply.content.iter_chunked(CHUNK):
                yield chunk
        except Exception as exc:
            raise _translate(exc, self._request, connected=True) from exc

    async def aclose(self) -> None:
        self._reply.release()


def _translate(exc: Exception, request: httpx.Request, *, connected: bool = False) -> Exception:
    """aiohttp's failure as the httpx error of the same meaning (never sent, or maybe received)."""
    if not connected and isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "connect timed out", request=request)
    if not connected and isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(str(exc) or "read timed out", request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(str(exc), request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request)
    return exc
