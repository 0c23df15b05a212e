"""Assets over HTTP: the streamed upload behind ``POST /v1/assets`` and the response of ``/content``.

``receive_upload`` reads a ``multipart/form-data`` body as it arrives (never whole in memory: the file part is
spooled to a temporary file), with one file part named ``file`` and at most ``max_upload_bytes`` of it
(``PayloadTooLarge``, 413, as soon as the limit is passed). The content type is sniffed from the bytes, whatever
the client claims, and must be one of ``storage.upload_types`` (``UnsupportedMediaType``, 415). An empty file,
a missing or repeated ``file`` part is ``InvalidRequest`` (422); a body that is not multipart is 415; a body
that ends before the closing boundary is ``MalformedRequest`` (400).

``content_response`` serves an asset's bytes from a local file, or answers 307 to a fresh presigned URL when the
backend has one (S3), so the bytes never pass through the API.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from genpulse.core.config import StorageConfig
from genpulse.core.errors import InvalidRequest, MalformedRequest, PayloadTooLarge, UnsupportedMediaType
from genpulse.core.schemas import Asset
from genpulse.media.sniff import SNIFF_BYTES, sniff
from genpulse.media.storage import AssetContent

FIELD = "file"
MAX_OTHER_BYTES = 64 << 10  # everything in the body that is not the file: boundaries, headers, other fields

UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class _Parts:
    """Multipart parser callbacks: the ``file`` part goes to a spooled file, the rest is counted and dropped."""

    def __init__(self, sink: Any, max_file: int) -> None:
        self.sink, self.max_file = sink, max_file
        self.size = self.other = self.files = 0
        self.too_large = self.ended = False
        self._header_field = self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._is_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._field,
            "on_header_value": self._value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_end": self._end,
        }

    def _begin(self) -> None:
        self._headers, self._is_file = {}, False

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._is_file = options.get(b"name") == FIELD.encode()
        self.files += self._is_file

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file or self.files > 1:
            self.other += end - start
            return
        self.size += end - start
        if self.size > self.max_file:
            self.too_large = True
        elif not self.too_large:
            self.sink.write(data[start:end])

    def _end(self) -> None:
        self.ended = True


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            f"upload as multipart/form-data with the file in a field named {FIELD!r}",
            details={"field": FIELD},
        )
    return boundary


async def receive_upload(request: Request, config: StorageConfig, save: Callable[[BinaryIO, str], Asset]) -> Asset:
    """Parse the upload (size and type checked), then ``save(file, content_type)`` it (in a thread)."""
    boundary = _boundary(request)
    limit = config.max_upload_bytes
    too_large = PayloadTooLarge(f"file exceeds {limit} bytes", details={"field": FIELD, "max_bytes": limit})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MAX_OTHER_BYTES:
        raise too_large
    with tempfile.SpooledTemporaryFile(max_size=4 << 20) as sink:
        parts = _Parts(sink, limit)
        parser = MultipartParser(boundary, parts.callbacks())
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                if parts.too_large:
                    raise too_large
                if parts.other > MAX_OTHER_BYTES:
                    raise PayloadTooLarge(f"form fields other than {FIELD!r} exceed {MAX_OTHER_BYTES} bytes")
        except MultipartParseError as exc:
            raise MalformedRequest(f"malformed multipart body: {exc}") from None
        except ClientDisconnect:
            raise MalformedRequest("the client disconnected before the upload ended") from None
        if not parts.ended:
            raise MalformedRequest("truncated multipart body: it ends before the closing boundary")
        if parts.files != 1:
            problem = "is missing" if parts.files == 0 else "must appear once"
            raise InvalidRequest(f"form field {FIELD!r} {problem}", details={"field": FIELD})
        if parts.size == 0:
            raise InvalidRequest("the uploaded file is empty", details={"field": FIELD})
        sink.seek(0)
        content_type = sniff(sink.read(SNIFF_BYTES))
        if content_type not in config.upload_types:
            raise UnsupportedMediaType(
                f"file type {content_type or 'unknown'} is not accepted",
                details={"field": FIELD, "content_type": content_type, "accepted": config.upload_types},
            )
        sink.seek(0)
        return await asyncio.to_thread(save, sink, content_type)  # type: ignore[arg-type]


def content_response(content: AssetContent) -> Response:
    if content.presigned_url is not None:
        return RedirectResponse(content.presigned_url, status_code=307, headers={"Cache-Control": "no-store"})
    asset = content.asset
    headers = {"ETag": f'"{asset.sha256}"'}
    if content.path is not None:
        return FileResponse(content.path, media_type=asset.content_type, headers=headers)
    return Response(content.read(), media_type=asset.content_type, headers=headers)
