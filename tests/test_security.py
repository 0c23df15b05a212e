"""The SSRF guard: address policy, URL shape, and the guarded httpx client against a real local server."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from genpulse.core.config import AppArgs, SecurityConfig
from genpulse.core.errors import InvalidRequest
from genpulse.core.url_guard import UrlGuard, forbidden_reason
from tests.vendors.server import serve_asgi

BLOCKED = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.10",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:a9fe:a9fe]",
    "[64:ff9b::7f00:1]",
    "[2002:a00:1::]",
    "localhost",
    # site-local (deprecated, still routed inside some networks) and the IPv6 forms of internal IPv4 addresses
    "[fec0::1]",
    "[feff:ffff::1]",
    "[::7f00:1]",  # IPv4-compatible ::127.0.0.1
    "[::808:808]",  # IPv4-compatible: deprecated whatever it embeds
    "[::ffff:0:a00:1]",  # IPv4-translated 10.0.0.1
    "[::ffff:c0a8:101]",  # IPv4-mapped 192.168.1.1
    "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
    "[2002:a9fe:a9fe::1]",  # 6to4 of the metadata address
    "[2001:0:4136:e378:8000:63bf:f5ff:fffe]",  # Teredo, client 10.0.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of the metadata address
    "[64:ff9b::ac10:1]",  # NAT64 of 172.16.0.1
    "[64:ff9b:1::808:808]",  # local-use NAT64 (RFC 8215): a site's own translator
    "[3fff::1]",  # documentation (RFC 9637)
]


@pytest.mark.parametrize("host", BLOCKED)
def test_private_and_special_targets_are_refused(host: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        UrlGuard().check(f"https://{host}/image.png", field="params.image")
    assert info.value.details["field"] == "params.image"
    assert "ALLOW_PRIVATE_URLS" in info.value.message


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/a.png",
        "https://[2606:4700:4700::1111]:8443/a.png",
        "https://[::ffff:808:808]/a.png",  # the IPv6 forms of a public IPv4 address are judged by it
        "https://[2002:808:808::1]/a.png",
        "https://[64:ff9b::808:808]/a.png",
    ],
)
def test_public_addresses_pass(url: str) -> None:
    assert UrlGuard().check(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://8.8.8.8/a.png", "scheme must be https"),
        ("ftp://8.8.8.8/a.png", "scheme must be https"),
        ("file:///etc/passwd", "scheme must be https"),
        ("gopher://8.8.8.8:70/_x", "scheme must be https"),
        ("https:///nohost", "no host"),
        ("not a url", "scheme"),
        ("https://user:pw@8.8.8.8/a.png", "credentials"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        UrlGuard().check(url)


def test_allow_private_and_allowed_networks() -> None:
    assert UrlGuard(SecurityConfig(allow_private_urls=True)).check("https://127.0.0.1/x")
    guard = UrlGuard(SecurityConfig(allowed_networks=["10.0.0.0/8"]))
    assert guard.check("https://10.9.8.7/x")
    with pytest.raises(InvalidRequest):
        guard.check("https://192.168.0.1/x")
    assert UrlGuard(SecurityConfig(allow_http_urls=True)).check("http://8.8.8.8/x")


def test_embedded_ipv4_forms_are_judged_by_the_embedded_address() -> None:
    assert forbidden_reason(ipaddress.ip_address("::ffff:8.8.8.8")) is None
    assert forbidden_reason(ipaddress.ip_address("::ffff:10.0.0.1")) == "private (embedded in ::ffff:a00:1)"


def test_the_env_switch_reaches_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPULSE_SECURITY__ALLOW_PRIVATE_URLS", "true")
    assert AppArgs.load({}).security.allow_private_urls is True


@pytest.fixture
def site() -> str:
    hits: list[str] = []

    async def ok(request: Request) -> Response:
        hits.append(request.url.path)
        return PlainTextResponse("fine")

    async def hop(request: Request) -> Response:
        hits.append(request.url.path)
        return RedirectResponse(request.query_params["to"], status_code=302)

    app = Starlette(routes=[Route("/ok", ok), Route("/hop", hop)])
    app.state.hits = hits
    with serve_asgi(app) as url:
        yield url


def _loopback_guard(**extra: object) -> UrlGuard:
    return UrlGuard(SecurityConfig(allow_http_urls=True, allowed_networks=["127.0.0.1/32"], **extra))


@pytest.fixture(params=["client", "pooled_client"])
def kind(request: pytest.FixtureRequest) -> str:
    """The guard's httpx client over httpcore, and over aiohttp's pool (vendor output downloads)."""
    return str(request.param)


def guarded(guard: UrlGuard, kind: str, **kwargs: Any) -> httpx.AsyncClient:
    return guard.client(**kwargs) if kind == "client" else guard.pooled_client(8, **kwargs)


async def test_guarded_client_follows_allowed_redirects(site: str, kind: str) -> None:
    async with guarded(_loopback_guard(), kind, follow_redirects=True) as client:
        response = await client.get(f"{site}/hop", params={"to": f"{site}/ok"})
    assert response.text == "fine"


async def test_guarded_client_refuses_a_redirect_to_a_forbidden_address(site: str, kind: str) -> None:
    port = httpx.URL(site).port
    async with guarded(_loopback_guard(), kind, follow_redirects=True) as client:
        for target in (f"http://127.0.0.2:{port}/ok", f"http://[::ffff:127.0.0.2]:{port}/ok"):
            with pytest.raises(InvalidRequest, match="loopback"):
                await client.get(f"{site}/hop", params={"to": target})


async def test_every_redirect_hop_gets_the_url_checks(site: str, kind: str) -> None:
    port = httpx.URL(site).port
    async with guarded(_loopback_guard(), kind, follow_redirects=True) as client:
        with pytest.raises(InvalidRequest, match="credentials"):
            await client.get(f"{site}/hop", params={"to": f"http://user:pw@127.0.0.1:{port}/ok"})
    async with guarded(UrlGuard(SecurityConfig(allowed_networks=["127.0.0.1/32"])), kind) as client:
        with pytest.raises(InvalidRequest, match="scheme must be https"):
            await client.get(f"{site}/ok")


async def test_connections_are_checked_even_without_a_prior_check(site: str, kind: str) -> None:
    async with guarded(UrlGuard(SecurityConfig(allow_http_urls=True)), kind) as client:
        with pytest.raises(InvalidRequest, match="loopback"):
            await client.get(f"{site}/ok")
    async with guarded(UrlGuard(SecurityConfig(allow_http_urls=True, allow_private_urls=True)), kind) as client:
        assert (await client.get(f"{site}/ok")).text == "fine"


async def test_trusted_origins_pass_but_their_redirects_are_checked(site: str, kind: str) -> None:
    port = httpx.URL(site).port
    async with guarded(
        UrlGuard(SecurityConfig(), trusted_origins=[f"{site}/api/v1"]), kind, follow_redirects=True
    ) as client:
        assert (await client.get(f"{site}/ok")).text == "fine"  # http and loopback: configured by the operator
        with pytest.raises(InvalidRequest, match="scheme must be https"):
            await client.get(f"{site}/hop", params={"to": f"http://127.0.0.1:{port + 1}/ok"})  # another port
        with pytest.raises(InvalidRequest, match="loopback"):
            await client.get(f"{site}/hop", params={"to": f"https://127.0.0.1:{port}/ok"})  # another scheme
    assert UrlGuard(trusted_origins=[site]).check(f"{site}/x") == f"{site}/x"


async def test_a_host_name_is_resolved_and_its_addresses_checked_before_connecting(site: str, kind: str) -> None:
    localhost = site.replace("127.0.0.1", "localhost")
    async with guarded(UrlGuard(SecurityConfig(allow_http_urls=True)), kind) as client:
        with pytest.raises(InvalidRequest, match="loopback"):
            await client.get(f"{localhost}/ok")
    async with guarded(_loopback_guard(), kind) as client:  # an allowed network: connected to its checked address
        assert (await client.get(f"{localhost}/ok")).text == "fine"


async def test_comfyui_fetches_image_urls_through_the_guard() -> None:
    from genpulse.providers.vendors.comfyui import ComfyUIProvider

    provider = ComfyUIProvider(AppArgs.load({}))
    async with httpx.AsyncClient() as vendor_client:
        for url in ("https://127.0.0.1:9/a.png", "https://[::ffff:169.254.169.254]/latest/meta-data"):
            with pytest.raises(InvalidRequest):
                await provider._fetch(vendor_client, url)
