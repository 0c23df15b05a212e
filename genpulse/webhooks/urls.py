"""The SSRF guard for webhook URLs, behind one function each (to be swapped for ``genpulse.security.check_url``).

``check_url`` runs at submit time without I/O: http(s) only, a host, no credentials, and no literal private,
loopback, link-local, multicast or reserved address (nor ``localhost``). ``check_resolved`` runs before each
delivery: every address the host resolves to must be public. ``allow_private`` (config
``security.allow_private_urls``) lifts the address rules, for operators whose receivers live inside.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from genpulse.errors import InvalidRequest

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _refuse(url: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"webhook_url {why}", details={"field": "webhook_url", "url": url[:200]})


def check_url(url: str, *, allow_private: bool = False) -> str:
    """Return the host of ``url`` or raise ``InvalidRequest`` saying why it may not be called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise _refuse(url, "must be an http or https URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise _refuse(url, "has no host")
    if parts.username or parts.password:
        raise _refuse(url, "must not carry credentials")
    try:
        _ = parts.port
    except ValueError:
        raise _refuse(url, "has an invalid port") from None
    if allow_private:
        return host
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise _refuse(url, "points at a private or loopback host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if not _is_public(ip):
        raise _refuse(url, "points at a private or loopback address")
    return host


async def check_resolved(url: str, *, allow_private: bool = False) -> None:
    """``check_url``, then refuse a host that resolves to any non-public address (or does not resolve)."""
    host = check_url(url, allow_private=allow_private)
    if allow_private:
        return
    parts = urlsplit(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _refuse(url, f"host does not resolve: {exc}") from None
    for info in infos:
        if not _is_public(ipaddress.ip_address(str(info[4][0]).split("%")[0])):
            raise _refuse(url, "resolves to a private or loopback address")
