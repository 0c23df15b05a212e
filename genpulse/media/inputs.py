"""Image inputs: turn an ``image`` param into what a vendor (or a local step) needs.

A param may be an asset id (``ast_...``, from ``POST /v1/assets`` or an earlier step), an ``https`` URL
(SSRF-guarded, see ``genpulse.core.url_guard``), a ``data:image/...;base64,`` URI, or bare base64. ``InputResolver``
gives back an ``ImageInput``:

- ``want="bytes"``: the bytes and their sniffed content type (URLs are downloaded, streamed and capped);
- ``want="url"``: a URL the vendor can fetch: the user's URL (checked), or a presigned URL of the asset (inline
  data is stored as an asset first). Storage that cannot hand out URLs (local without an absolute
  ``public_base_url``) makes this an ``InvalidRequest`` that says what to configure;
- ``want="any"``: a URL where there is one without extra work, else bytes.

Errors: anything wrong with the input itself (unknown asset, not an image, over ``max_bytes``, bad base64,
refused or failing URL) is ``InvalidRequest`` naming the field; a URL that is unreachable or answers 5xx is
``ServiceUnavailable`` (retryable).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from genpulse.core.errors import InvalidRequest, NotFound, ServiceUnavailable
from genpulse.core.schemas import Asset
from genpulse.core.url_guard import UrlGuard
from genpulse.media.sniff import sniff
from genpulse.media.storage import Storage

Want = Literal["bytes", "url", "any"]
_ASSET = re.compile(r"^ast_[0-9a-f]{24}$")
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*);base64,(.*)$", re.S)


@dataclass(frozen=True)
class ImageInput:
    content_type: str | None
    data: bytes | None = None
    url: str | None = None
    asset_id: str | None = None

    @property
    def b64(self) -> str:
        if self.data is None:
            raise ValueError("this input is a URL; resolve it with want='bytes' for base64")
        return base64.b64encode(self.data).decode()

    @property
    def data_uri(self) -> str:
        return f"data:{self.content_type};base64,{self.b64}"


@dataclass
class InputResolver:
    storage: Storage
    guard: UrlGuard
    client: httpx.AsyncClient | None  # from ``guard.client()``; made on first download when None
    max_bytes: int

    async def image(self, value: str, *, want: Want = "bytes", field: str = "image") -> ImageInput:
        value = value.strip()
        if _ASSET.match(value):
            return await self._asset(value, want, field)
        if value.lower().startswith(("https://", "http://")):
            await self.guard.check_async(value, field)
            if want != "bytes":
                return ImageInput(content_type=None, url=value)
            data = await self._download(value, field)
        else:
            data = self._inline(value, field)
        content_type = self._image_type(data, field)
        if want == "url":
            asset = await asyncio.to_thread(self.storage.put, data, content_type)
            return await self._asset(asset.id, want, field)
        return ImageInput(content_type=content_type, data=data)

    async def _asset(self, asset_id: str, want: Want, field: str) -> ImageInput:
        try:
            asset = await asyncio.to_thread(self.storage.get, asset_id)
        except NotFound:
            raise _bad(field, f"asset {asset_id} not found") from None
        if not asset.content_type.startswith("image/"):
            raise _bad(field, f"asset {asset_id} is {asset.content_type}, not an image")
        if asset.bytes > self.max_bytes:
            raise _bad(field, f"asset {asset_id} is {asset.bytes} bytes, over the {self.max_bytes} byte limit")
        if want != "bytes":
            url = await self._asset_url(asset)
            if url is not None:
                return ImageInput(content_type=asset.content_type, url=url, asset_id=asset_id)
            if want == "url":
                raise _bad(
                    field,
                    "this provider fetches images by URL, and this deployment's storage cannot give out asset "
                    "URLs: use S3 storage or set storage.public_base_url to the API's public https address",
                )
        data = await asyncio.to_thread(self.storage.read, asset_id)
        return ImageInput(content_type=asset.content_type, data=data, asset_id=asset_id)

    async def _asset_url(self, asset: Asset) -> str | None:
        presigned = await asyncio.to_thread(self.storage.presign, asset.id)
        if presigned is not None:
            return presigned
        return asset.url if asset.url.startswith("https://") else None

    def _inline(self, value: str, field: str) -> bytes:
        match = _DATA_URI.match(value)
        if value.startswith("data:") and not match:
            raise _bad(field, "data URIs must look like data:image/<type>;base64,<data>")
        payload = re.sub(r"\s+", "", match.group(3) if match else value)
        if len(payload) * 3 // 4 > self.max_bytes + 2:
            raise _bad(field, f"inline image is over the {self.max_bytes} byte limit")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise _bad(field, "not an asset id, an https URL, a data: URI or valid base64") from None
        if len(data) > self.max_bytes:
            raise _bad(field, f"inline image is over the {self.max_bytes} byte limit")
        return data

    def _image_type(self, data: bytes, field: str) -> str:
        content_type = sniff(data)
        if not data or content_type is None or not content_type.startswith("image/"):
            raise _bad(field, f"not an image (detected {content_type or 'unknown data'})")
        return content_type

    async def _download(self, url: str, field: str) -> bytes:
        if self.client is None:
            self.client = self.guard.client(timeout=httpx.Timeout(30, connect=10), follow_redirects=True)
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code >= 500:
                    raise ServiceUnavailable(f"{field}: image URL answered HTTP {response.status_code}")
                if response.status_code != 200:
                    raise _bad(field, f"image URL answered HTTP {response.status_code}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _bad(field, f"image at URL is over the {self.max_bytes} byte limit")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{field}: image URL could not be fetched: {type(exc).__name__}") from None


async def resolve_asset_refs(params: BaseModel, resolver: InputResolver) -> BaseModel:
    """``params`` with every string that is an asset id (at any depth) replaced by the image it names, as a
    presigned URL where the storage has them, else a ``data:`` URI. Vendor modules then see only the URL and
    inline forms they already handle. Other strings, URLs included, are left to the vendor. The values are
    ours, so the copy is not validated again."""

    async def walk(value: Any, path: str) -> Any:
        if isinstance(value, str) and _ASSET.match(value):
            image = await resolver.image(value, want="any", field=path)
            return image.url or image.data_uri
        if isinstance(value, BaseModel):
            updates = {}
            for name in type(value).model_fields:
                old = getattr(value, name)
                new = await walk(old, f"{path}.{name}")
                if new is not old:
                    updates[name] = new
            return value.model_copy(update=updates) if updates else value
        if isinstance(value, list | tuple):
            items = [await walk(v, f"{path}.{i}") for i, v in enumerate(value)]
            return type(value)(items) if any(n is not o for n, o in zip(items, value, strict=True)) else value
        if isinstance(value, dict):
            pairs = {k: await walk(v, f"{path}.{k}") for k, v in value.items()}
            return pairs if any(pairs[k] is not value[k] for k in value) else value
        return value

    return await walk(params, "params")


def _bad(field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {reason}", details={"field": field, "reason": reason})
