"""Re-hosting vendor outputs from a real local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from genpulse.core.errors import MalformedReply, ProviderError, ProviderServerError
from genpulse.media.rehost import rehost, rehost_output
from genpulse.media.storage import Storage
from genpulse.providers.cloud import VendorOutput
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

    routes = [
        Route(p, f)
        for p, f in {
            "/flaky": flaky,
            "/cut": cut,
            "/status": status,
            "/endless": endless,
            "/ok": ok,
            "/empty": empty,
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
