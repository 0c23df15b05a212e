"""Re-hosting vendor outputs from a real local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from genpulse.core.errors import MalformedReply, ProviderError, ProviderServerError
from genpulse.core.schemas import Asset
from genpulse.media.rehost import rehost, rehost_output
from genpulse.media.storage import Storage
from genpulse.providers.cloud import VendorOutput
from genpulse.providers.vendor_runner import Rehost, VendorRunner
from genpulse.wiring.in_process import build_local
from tests.harness import local_args
from tests.storage.media import jpeg, png
from tests.vendors.server import serve_asgi

IMAGE = png(7, 5)


@dataclass
class Vendor:
    url: str
    hits: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def vendor() -> Iterator[Vendor]:
    hits: dict[str, int] = {}

    def count(request: Request) -> int:
        key = request.url.path + "?" + request.url.query
        hits[key] = hits.get(key, 0) + 1
        return hits[key]

    async def flaky(request: Request) -> Response:
        if count(request) == 1:
            return Response("busy", status_code=503)
        return Response(IMAGE, media_type="application/octet-stream")

    async def cut(request: Request) -> Response:
        if count(request) == 1:  # announces more than it sends: the connection drops mid-body
            return Response(IMAGE[:10], headers={"content-length": str(len(IMAGE))})
        return Response(IMAGE, media_type="image/png")

    async def status(request: Request) -> Response:
        count(request)
        return Response("no", status_code=int(request.query_params["code"]))

    async def endless(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield IMAGE
            for _ in range(1000):
                yield b"\0" * 1024

        return StreamingResponse(chunks(), media_type="image/png")

    async def ok(request: Request) -> Response:
        return Response(jpeg(), media_type=request.query_params.get("type", "image/jpeg"))

    async def empty(request: Request) -> Response:
        return Response(b"", media_type="image/png")

    async def hop(request: Request) -> Response:
        count(request)
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def loop(request: Request) -> Response:
        hits["/loop"] = hits.get("/loop", 0) + 1
        return RedirectResponse(f"/loop?n={int(request.query_params.get('n', 0)) + 1}", status_code=302)

    routes = [
        Route(p, f)
        for p, f in {
            "/flaky": flaky,
            "/cut": cut,
            "/status": status,
            "/endless": endless,
            "/ok": ok,
            "/empty": empty,
            "/hop": hop,
            "/loop": loop,
        }.items()
    ]
    with serve_asgi(Starlette(routes=routes)) as url:
        yield Vendor(url, hits)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.mark.parametrize("path", ["/flaky?t=1", "/cut?t=1"])
async def test_a_download_that_fails_once_is_retried_and_stored(
    vendor: Vendor, client: httpx.AsyncClient, local_storage: Storage, path: str
) -> None:
    sleeps = Sleeps()
    asset = await rehost(client, local_storage, vendor.url + path, max_bytes=1 << 20, sleep=sleeps)
    assert vendor.hits[path] == 2
    assert sleeps.delays == [0.5]
    assert local_storage.read(asset.id) == IMAGE
    assert (asset.content_type, asset.sha256, asset.width) == ("image/png", hashlib.sha256(IMAGE).hexdigest(), 7)


async def test_retries_are_bounded_and_the_error_is_retryable(
    vendor: Vendor, client: httpx.AsyncClient, local_storage: Storage
) -> None:
    sleeps = Sleeps()
    with pytest.raises(ProviderServerError) as info:
        await rehost(client, local_storage, f"{vendor.url}/status?code=502", max_bytes=1000, sleep=sleeps)
    assert info.value.retryable and info.value.provider_code == "502"
    assert sleeps.delays == [0.5, 1.0]
    assert vendor.hits["/status?code=502"] == 3


@pytest.mark.parametrize("code", [403, 404, 410])
async def test_client_errors_are_permanent(
    vendor: Vendor, client: httpx.AsyncClient, local_storage: Storage, code: int
) -> None:
    with pytest.raises(ProviderError, match="may have expired") as info:
        await rehost(client, local_storage, f"{vendor.url}/status?code={code}", max_bytes=1000, sleep=Sleeps())
    assert not info.value.retryable
    assert vendor.hits[f"/status?code={code}"] == 1


async def test_the_size_cap_holds_without_a_content_length(
    vendor: Vendor, client: httpx.AsyncClient, local_storage: Storage
) -> None:
    with pytest.raises(ProviderError, match="cap") as info:
        await rehost(client, local_storage, f"{vendor.url}/endless", max_bytes=64 << 10)
    assert not info.value.retryable
    assert list(local_storage.expired(float("inf"))) == []


async def test_the_content_type_is_sniffed_before_hints(
    vendor: Vendor, client: httpx.AsyncClient, local_storage: Storage
) -> None:
    asset = await rehost(
        client, local_storage, f"{vendor.url}/ok?type=text/plain", max_bytes=1 << 20, content_type_hint="image/png"
    )
    assert asset.content_type == "image/jpeg"


async def test_an_empty_body_is_a_malformed_reply(
    vendor: Vendor, client: httpx.AsyncClient, local_storage: Storage
) -> None:
    with pytest.raises(MalformedReply):
        await rehost(client, local_storage, f"{vendor.url}/empty", max_bytes=1000)


async def test_vendor_outputs_inline_or_by_url(vendor: Vendor, client: httpx.AsyncClient, s3_storage: Storage) -> None:
    inline = await rehost_output(client, s3_storage, VendorOutput(kind="image", data=IMAGE), max_bytes=1 << 20)
    assert (s3_storage.read(inline.id), inline.content_type) == (IMAGE, "image/png")
    by_url = await rehost_output(
        client, s3_storage, VendorOutput(kind="image", url=f"{vendor.url}/ok"), max_bytes=1 << 20
    )
    assert s3_storage.read(by_url.id) == jpeg()
    with pytest.raises(ProviderError, match="larger"):
        await rehost_output(client, s3_storage, VendorOutput(kind="image", data=IMAGE), max_bytes=10)
    with pytest.raises(MalformedReply):
        await rehost_output(client, s3_storage, VendorOutput(kind="video"), max_bytes=10)


# Re-hosting as a vendor runner does it (the registry's wiring): vendor API calls go to the configured base URL,
# output downloads go through the SSRF guard, hop by hop, except on the vendor's own configured origin.


@dataclass
class Internal:
    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def internal() -> Iterator[Internal]:
    """A service inside our network (here: another loopback port) that a vendor's output URL must not reach."""
    hits: list[str] = []

    async def secret(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(IMAGE, media_type="image/png")

    with serve_asgi(Starlette(routes=[Route("/secret", secret)])) as url:
        yield Internal(url, hits)


def wired_rehost(tmp_path: Path, vendor_url: str, **security: object) -> Callable[[VendorOutput], Awaitable[Asset]]:
    """The ``rehost`` of kling's runner, built by the registry with ``base_url`` at ``vendor_url``, into storage."""
    kling = {"base_url": vendor_url, "access_key": "ak", "secret_key": "sk"}
    wiring = build_local(local_args(tmp_path, providers={"kling": kling}, security=security)).wiring
    runner = wiring.runner("kling")
    assert isinstance(runner, VendorRunner)
    rehost: Rehost = runner.rehost
    return functools.partial(rehost, wiring.storage)


async def test_outputs_on_the_vendors_configured_origin_need_no_exception(vendor: Vendor, tmp_path: Path) -> None:
    asset = await wired_rehost(tmp_path, vendor.url)(VendorOutput(kind="image", url=f"{vendor.url}/ok"))
    assert asset.content_type == "image/jpeg"  # http on 127.0.0.1 is fine there: the operator configured it


async def test_an_output_url_into_our_network_is_refused(internal: Internal, vendor: Vendor, tmp_path: Path) -> None:
    output = VendorOutput(kind="image", url=f"{internal.url}/secret?sig=abc")
    with pytest.raises(ProviderError, match="SSRF guard: URL scheme must be https") as info:
        await wired_rehost(tmp_path / "a", vendor.url)(output)
    assert not info.value.retryable and "sig=abc" not in info.value.message
    with pytest.raises(ProviderError, match="loopback"):
        await wired_rehost(tmp_path / "b", vendor.url, allow_http_urls=True)(output)
    assert internal.hits == []


@pytest.mark.parametrize(
    "target",
    [
        "{internal}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://[fec0::1]:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_a_redirect_from_the_vendor_into_our_network_is_refused(
    internal: Internal, vendor: Vendor, tmp_path: Path, target: str
) -> None:
    to = target.format(internal=internal.url, port=httpx.URL(internal.url).port)
    rehost_ = wired_rehost(tmp_path, vendor.url, allow_http_urls=True)
    with pytest.raises(ProviderError, match="refused by the SSRF guard") as info:
        await rehost_(VendorOutput(kind="image", url=f"{vendor.url}/hop?{urlencode({'to': to})}"))
    assert not info.value.retryable
    assert internal.hits == []


async def test_redirects_the_policy_allows_are_followed_and_bounded(
    internal: Internal, vendor: Vendor, tmp_path: Path
) -> None:
    rehost_ = wired_rehost(tmp_path, vendor.url, allow_http_urls=True, allowed_networks=["127.0.0.1/32"])
    asset = await rehost_(
        VendorOutput(kind="image", url=f"{vendor.url}/hop?{urlencode({'to': internal.url + '/secret'})}")
    )
    assert asset.content_type == "image/png" and internal.hits == ["/secret"]
    internal.hits.clear()
    vendor.hits.pop("/loop", None)
    with pytest.raises(ProviderError, match="more than 5 redirects") as info:
        await rehost_(VendorOutput(kind="image", url=f"{vendor.url}/loop"))
    assert not info.value.retryable and vendor.hits["/loop"] == 6
