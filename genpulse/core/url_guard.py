"""SSRF guard for URLs that users hand us (image inputs) and that we call on their behalf (webhooks).

Policy (``SecurityConfig``, ``GENPULSE_SECURITY__*``): only ``https`` (``allow_http_urls`` adds ``http``); no
credentials in the URL; the host must resolve, and every address it resolves to must be global: loopback,
private, link-local (cloud metadata at 169.254.169.254), shared (100.64/10), multicast, reserved and
unspecified addresses are refused, also in IPv6 (site-local ``fec0::/10`` too) and in the IPv6 forms that embed
an IPv4 address: IPv4-mapped ``::ffff:127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4 and Teredo are judged by the
embedded address; IPv4-compatible ``::/96``, IPv4-translated ``::ffff:0:0:0/96`` and local-use NAT64
``64:ff9b:1::/48`` are refused whatever they embed. ``allowed_networks`` lists CIDRs that pass anyway;
``allow_private_urls`` turns the address check off (trusted networks only). ``trusted_origins`` (scheme, host and
port of URLs the operator configured, e.g. a vendor's ``base_url``) pass without the scheme and address checks:
a request there is a call to a configured server, not a target someone else chose.

API:
- ``UrlGuard(config).check(url)`` / ``await ...check_async(url)``: the URL back, or ``InvalidRequest`` with
  ``details = {"field": ..., "reason": ...}``.
- ``UrlGuard(config).client(**httpx_kwargs)``: an ``httpx.AsyncClient`` whose transport re-checks the scheme of
  every request (so every redirect hop) and checks the resolved addresses of every new connection, then
  connects to the address it checked (no second DNS lookup that a rebinding attack could answer differently).
  A refused hop raises ``InvalidRequest`` out of the request call. Environment proxies are not used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import aiohttp
import aiohttp.abc
import httpcore
import httpx

from genpulse.core.aiohttp_transport import AiohttpTransport
from genpulse.core.config import SecurityConfig
from genpulse.core.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Origin = tuple[str, str, int]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 ranges that Python's ``is_*`` flags let through (fec0::/10, 3fff::/20 before 3.13) or that are refused
# whatever they embed, listed here so the policy does not depend on the Python version.
_SPECIAL_V6 = [
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("fec0::/10", "site-local"),  # deprecated (RFC 3879) but still routed inside some networks
        ("::/96", "IPv4-compatible"),  # deprecated (RFC 4291)
        ("::ffff:0:0:0/96", "IPv4-translated"),  # SIIT (RFC 2765)
        ("64:ff9b:1::/48", "local-use NAT64"),  # RFC 8215: a site's own translator, to any IPv4 it can reach
        ("3fff::/20", "documentation"),  # RFC 9637
    )
]


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return f"{inner} (embedded in {ip})" if inner else None
    for reason in ("loopback", "link_local", "site_local", "multicast", "private", "reserved", "unspecified"):
        if getattr(ip, f"is_{reason}", False):
            return reason.replace("_", "-")
    if isinstance(ip, ipaddress.IPv6Address):
        for net, reason in _SPECIAL_V6:
            if ip in net:
                return reason
    return None if ip.is_global else "not globally routable"


class UrlGuard:
    def __init__(self, config: SecurityConfig | None = None, *, trusted_origins: Iterable[str] = ()) -> None:
        self.config = config or SecurityConfig()
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in self.config.allowed_networks]
        self.schemes = ("https", "http") if self.config.allow_http_urls else ("https",)
        self._trusted: set[Origin] = {_origin(httpx.URL(u)) for u in trusted_origins if u}
        self._trusted_endpoints = {(host, port) for _, host, port in self._trusted}

    def trusts(self, url: httpx.URL) -> bool:
        """Whether ``url`` is on one of the ``trusted_origins`` (same scheme, host and port)."""
        return _origin(url) in self._trusted

    def check_static(self, url: str | httpx.URL, field: str = "url") -> httpx.URL:
        """The checks that need no DNS: parse, scheme, credentials, host; a literal IP address is checked too."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise _refused(field, f"not a valid URL: {exc}") from None
        if parsed.host and not parsed.userinfo and self.trusts(parsed):
            return parsed
        if parsed.scheme not in self.schemes:
            allowed = " or ".join(self.schemes)
            raise _refused(field, f"URL scheme must be {allowed}, got {parsed.scheme or 'none'!r}")
        if not parsed.host:
            raise _refused(field, "URL has no host")
        if parsed.userinfo:
            raise _refused(field, "URLs with credentials are not accepted")
        try:
            literal = ipaddress.ip_address(parsed.host)
        except ValueError:
            literal = None
        if literal is not None:
            self.check_addresses(parsed.host, [literal], field)
        return parsed

    def check_addresses(self, host: str, addresses: Iterable[IPAddress], field: str = "url") -> None:
        if self.config.allow_private_urls:
            return
        for ip in addresses:
            if any(ip in net for net in self._allowed):
                continue
            reason = forbidden_reason(ip)
            if reason is not None:
                raise _refused(
                    field,
                    f"URL host {host} resolves to a {reason} address ({ip}); set "
                    "GENPULSE_SECURITY__ALLOW_PRIVATE_URLS=true to allow private targets",
                )

    def trusts_endpoint(self, host: str, port: int) -> bool:
        return (host, port) in self._trusted_endpoints

    def check(self, url: str, field: str = "url") -> str:
        parsed = self.check_static(url, field)
        if not self.config.allow_private_urls and not self.trusts(parsed):
            try:
                infos = socket.getaddrinfo(parsed.host, _port(parsed), type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise _refused(field, f"cannot resolve URL host {parsed.host}: {exc.strerror}") from None
            self.check_addresses(parsed.host, _addresses(infos), field)
        return url

    async def check_async(self, url: str, field: str = "url") -> str:
        parsed = self.check_static(url, field)
        if not self.config.allow_private_urls and not self.trusts(parsed):
            await self.resolve(parsed.host, _port(parsed), field)
        return url

    async def resolve(self, host: str, port: int, field: str = "url") -> list[str]:
        """Resolve ``host`` and check every address; returns them (as strings), in resolver order."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise _refused(field, f"cannot resolve URL host {host}: {exc.strerror}") from None
        addresses = _addresses(infos)
        self.check_addresses(host, addresses, field)
        return list(dict.fromkeys(str(a) for a in addresses))

    def transport(self, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return _GuardedTransport(self, httpx.AsyncHTTPTransport(**kwargs))

    def pooled_client(self, max_connections: int, **kwargs: Any) -> httpx.AsyncClient:
        """``client``'s checks over aiohttp's connection pool (``genpulse.core.aiohttp_transport``; about a
        fifth of the CPU per request): every hop's URL passes ``check_static`` and every host is resolved and
        checked by ``_GuardedResolver`` before a connection is made to one of its checked addresses."""
        transport = AiohttpTransport(max_connections, resolver=lambda: _GuardedResolver(self), check=self.check_static)
        return httpx.AsyncClient(transport=transport, trust_env=False, **kwargs)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        transport_keys = ("verify", "cert", "http1", "http2", "limits", "retries", "socket_options")
        transport_kwargs = {k: kwargs.pop(k) for k in transport_keys if k in kwargs}
        return httpx.AsyncClient(transport=self.transport(**transport_kwargs), trust_env=False, **kwargs)


class _GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, guard: UrlGuard, inner: httpx.AsyncHTTPTransport) -> None:
        self._guard, self._inner = guard, inner
        pool = inner._pool
        if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx/httpcore changed: cannot install the SSRF guard's network backend")
        pool._network_backend = _GuardedBackend(guard, pool._network_backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._guard.check_static(request.url)  # every hop of a redirect chain is a new request here
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host of every new connection, then connects to a checked address."""

    def __init__(self, guard: UrlGuard, inner: httpcore.AsyncNetworkBackend) -> None:
        self._guard, self._inner = guard, inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._guard.config.allow_private_urls or self._guard.trusts_endpoint(host, port):
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        last: Exception | None = None
        for address in await self._guard.resolve(host, port):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.host, _port(url))


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[IPAddress]:
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _refused(field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {reason}", details={"field": field, "reason": reason})


class _GuardedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver through the guard: only checked addresses are returned, so only they are connected to.
    (aiohttp resolves no literal IP address: ``check_static`` checks those first.)"""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard
        self._plain = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if self._guard.config.allow_private_urls or self._guard.trusts_endpoint(host, port):
            return await self._plain.resolve(host, port, family)  # type: ignore[return-value]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in await self._guard.resolve(host, port)
        ]

    async def close(self) -> None:
        await self._plain.close()
