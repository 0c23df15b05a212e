"""Image inputs: asset ids, guarded URLs (a real local server), data URIs; local storage and S3 (moto)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from genpulse.core.config import SecurityConfig
from genpulse.core.errors import InvalidRequest, ServiceUnavailable
from genpulse.core.url_guard import UrlGuard
from genpulse.media.inputs import InputResolver
from genpulse.media.storage import LocalStorage, Storage
from tests.storage.media import png

IMAGE = png(4, 4)
B64 = base64.b64encode(IMAGE).decode()
LOCAL_OK = UrlGuard(SecurityConfig(allow_http_urls=True, allowed_networks=["127.0.0.1/32"]))


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    async def image(request: Request) -> Response:
        return Response(IMAGE * int(request.query_params.get("times", "1")), media_type="image/png")

    async def text(request: Request) -> Response:
        return Response("hello", media_type="image/png")

    async def status(request: Request) -> Response:
        return Response("x", status_code=int(request.query_params["code"]))

    from tests.vendors.server import serve_asgi

    with serve_asgi(Starlette(routes=[Route("/i", image), Route("/t", text), Route("/s", status)])) as url:
        yield url


async def _resolver(storage: Storage, guard: UrlGuard = LOCAL_OK, max_bytes: int = 4096) -> InputResolver:
    return InputResolver(storage, guard, guard.client(timeout=5), max_bytes)


@pytest.fixture
async def local(local_storage: Storage) -> AsyncIterator[InputResolver]:
    resolver = await _resolver(local_storage)
    yield resolver
    await resolver.client.aclose()


@pytest.fixture
async def s3(s3_storage: Storage) -> AsyncIterator[InputResolver]:
    resolver = await _resolver(s3_storage)
    yield resolver
    await resolver.client.aclose()


async def test_an_asset_id_gives_bytes_or_a_presigned_url(s3: InputResolver) -> None:
    asset = s3.storage.put(IMAGE, "image/png")
    got = await s3.image(asset.id)
    assert (got.data, got.content_type, got.asset_id) == (IMAGE, "image/png", asset.id)
    as_url = await s3.image(asset.id, want="url")
    assert as_url.data is None and "X-Amz-Signature=" in (as_url.url or "")
    assert httpx.get(as_url.url or "").content == IMAGE


async def test_local_storage_gives_a_url_only_with_a_public_base(local: InputResolver, tmp_path: Path) -> None:
    asset = local.storage.put(IMAGE, "image/png")
    with pytest.raises(InvalidRequest, match="public_base_url"):
        await local.image(asset.id, want="url", field="params.image")
    assert (await local.image(asset.id, want="any")).data == IMAGE
    public = LocalStorage(local.storage.root, "https://api.example.com")  # type: ignore[attr-defined]
    resolver = await _resolver(public)
    got = await resolver.image(asset.id, want="url")
    assert got.url == f"https://api.example.com/v1/assets/{asset.id}/content"


async def test_bad_assets_are_invalid_requests(local: InputResolver) -> None:
    with pytest.raises(InvalidRequest, match="not found") as info:
        await local.image("ast_000000000000000000000000", field="params.image")
    assert info.value.details["field"] == "params.image"
    text = local.storage.put(b"plain", "text/plain")
    with pytest.raises(InvalidRequest, match="not an image"):
        await local.image(text.id)
    big = local.storage.put(IMAGE + b"\0" * 5000, "image/png")
    with pytest.raises(InvalidRequest, match="limit"):
        await local.image(big.id)


async def test_a_url_is_checked_then_passed_on_or_downloaded(local: InputResolver, site: str) -> None:
    assert (await local.image(f"{site}/i", want="url")).url == f"{site}/i"
    got = await local.image(f"{site}/i")
    assert (got.data, got.content_type) == (IMAGE, "image/png")


async def test_private_urls_are_refused_by_default(local_storage: Storage, site: str) -> None:
    resolver = await _resolver(local_storage, UrlGuard())
    for want in ("url", "bytes"):
        with pytest.raises(InvalidRequest, match="scheme must be https"):
            await resolver.image(f"{site}/i", want=want)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="loopback"):
        await resolver.image("https://127.0.0.1/i.png", want="url")


async def test_url_failures(local: InputResolver, site: str) -> None:
    with pytest.raises(InvalidRequest, match="HTTP 404"):
        await local.image(f"{site}/s?code=404")
    with pytest.raises(ServiceUnavailable, match="HTTP 503"):
        await local.image(f"{site}/s?code=503")
    with pytest.raises(InvalidRequest, match="limit"):
        await local.image(f"{site}/i?times=100")
    with pytest.raises(InvalidRequest, match="not an image"):
        await local.image(f"{site}/t")


@pytest.mark.parametrize(
    "value", [f"data:image/png;base64,{B64}", f"data:image/jpeg;base64,{B64}", B64], ids=["png", "mislabeled", "bare"]
)
async def test_inline_images(local: InputResolver, value: str) -> None:
    got = await local.image(value)
    assert (got.data, got.content_type) == (IMAGE, "image/png")  # sniffed, whatever was declared
    assert got.data_uri == f"data:image/png;base64,{B64}"


async def test_inline_images_become_presigned_urls_on_s3(s3: InputResolver) -> None:
    got = await s3.image(f"data:image/png;base64,{B64}", want="url")
    assert got.asset_id and httpx.get(got.url or "").content == IMAGE


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("data:image/png,notbase64", "data URIs must"),
        ("data:image/png;base64,@@@@", "valid base64"),
        ("ast_nothex", "valid base64"),
        (base64.b64encode(b"GIF8").decode(), "not an image"),
        ("data:image/png;base64," + base64.b64encode(b"\0" * 5000).decode(), "limit"),
    ],
    ids=["not-base64-uri", "bad-base64", "bad-asset-id", "not-an-image", "too-large"],
)
async def test_bad_inline_images(local: InputResolver, value: str, match: str) -> None:
    with pytest.raises(InvalidRequest, match=match):
        await local.image(value)
