"""Image inputs in task params (image-to-video first frames, reference images), from submit to vendor.

A param may be an asset id (``ast_...``, from ``POST /v1/assets`` or an earlier step), an ``https`` URL
(SSRF-guarded, see ``genpulse.core.url_guard``), a ``data:image/...;base64,`` URI, or bare base64.

- ``ImageRef`` is the param type: it checks that shape at submit time.
- ``resolve_asset_refs`` replaces every asset id in a task's params by a presigned URL or a data URI before a
  vendor module sees them; a vendor module then only calls ``split_image`` for the form it must send (URL, raw
  base64, data URI).
- ``InputResolver`` turns a param into what a vendor or a local step needs, as an ``ImageInput``:

  - ``want="bytes"``: the bytes and their sniffed content type (URLs are downloaded, streamed and capped);
  - ``want="url"``: a URL the vendor can fetch: the user's URL (checked), or a presigned URL of the asset (inline
    data is stored as an asset first). Storage that cannot hand out URLs (local without an absolute
    ``public_base_url``) makes this an ``InvalidRequest`` that says what to configure;
  - ``want="any"``: a URL where there is one without extra work, else bytes.

Errors: anything wrong with the input itself (unknown asset, not an image, over ``max_bytes``, bad base64,
refused or failing URL) is ``InvalidRequest`` naming the field; a URL that is unreachable or answers 5xx is
``ServiceUnavailable`` (retryable).

Data URIs: the resolver takes any ``data:[<type>][;k=v...];base64,`` URI and sniffs the bytes; ``ImageRef`` and
``split_image`` take only the plain ``data:image/<type>;base64,`` form (``_image_data_uri``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, BaseModel, Field

from genpulse.core.errors import InvalidRequest, NotFound, ServiceUnavailable
from genpulse.core.schemas import SYSTEM_TENANT, Asset
from genpulse.core.url_guard import UrlGuard
from genpulse.media.sniff import SNIFF_BYTES, sniff
from genpulse.media.storage import Storage

Want = Literal["bytes", "url", "any"]
MAX_IMAGE_CHARS = 14_000_000  # about 10 MB of base64
_ASSET = re.compile(r"^ast_[0-9a-f]{24}$")
# groups: content type (optional), ``;k=v`` parameters, payload
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*);base64,(.*)$", re.S)
_IMAGE_SUBTYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-")


def _image_data_uri(value: str) -> tuple[str, str] | None:
    """``(content type, payload)`` of a plain ``data:image/<type>;base64,<payload>`` URI (ASCII type, no
    parameters), the only data URI form ``ImageRef`` and ``split_image`` take; else None."""
    match = _DATA_URI.match(value)
    if match is None or match.group(2):
        return None
    mime = match.group(1) or ""
    kind, _, subtype = mime.partition("/")
    if kind != "image" or not set(subtype) <= _IMAGE_SUBTYPE_CHARS:
        return None
    return mime, match.group(3)


@dataclass(frozen=True)
class ImageValue:
    """An image param in the form a vendor sends it: a URL, or base64 with its content type."""

    url: str | None = None
    b64: str | None = None
    mime: str = "image/png"

    @property
    def data_uri(self) -> str | None:
        return f"data:{self.mime};base64,{self.b64}" if self.b64 is not None else None

    @property
    def url_or_data_uri(self) -> str:
        return self.url or self.data_uri or ""


def split_image(value: str) -> ImageValue:
    if value.startswith("https://") or value.startswith("http://"):
        return ImageValue(url=value)
    data_uri = _image_data_uri(value)
    if data_uri:
        return ImageValue(b64=data_uri[1].strip(), mime=data_uri[0])
    return ImageValue(b64=value.strip(), mime=_b64_image_type(value))


def _b64_image_type(b64: str) -> str:
    """The image type ``sniff`` finds in the first bytes of base64 text; ``image/png`` when it finds none."""
    head = "".join(b64[: SNIFF_BYTES * 2].split())
    head = head[: min(len(head), (SNIFF_BYTES + 2) // 3 * 4) // 4 * 4]
    try:
        content_type = sniff(base64.b64decode(head))
    except (binascii.Error, ValueError):
        content_type = None
    return content_type if content_type and content_type.startswith("image/") else "image/png"


def _check(value: str) -> str:
    value = value.strip()
    if value.startswith("https://") or _ASSET.match(value):
        return value
    if value.startswith("http://"):
        raise ValueError("image URLs must use https")
    data_uri = _image_data_uri(value)
    payload = data_uri[1] if data_uri else value
    if value.startswith("data:") and not data_uri:
        raise ValueError("data URIs must look like data:image/<type>;base64,<data>")
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not an https URL, a data:image URI or valid base64") from None
    if not payload:
        raise ValueError("empty image")
    return value


ImageRef = Annotated[
    str,
    Field(
        min_length=8,
        max_length=MAX_IMAGE_CHARS,
        description="An image: an asset id (ast_...), an https URL, a data:image/...;base64 URI, or raw base64.",
    ),
    AfterValidator(_check),
]


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
            asset = await asyncio.to_thread(self.storage.put, data, content_type, SYSTEM_TENANT)  # ours, not a caller's
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


def asset_ids(value: Any) -> set[str]:
    """Every asset id (``ast_...``) anywhere in validated params."""
    if isinstance(value, str):
        return {value} if _ASSET.match(value) else set()
    if isinstance(value, dict):
        return set().union(*(asset_ids(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(asset_ids(v) for v in value)) if value else set()
    return set()


def _bad(field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {reason}", details={"field": field, "reason": reason})
