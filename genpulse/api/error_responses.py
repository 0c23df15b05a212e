"""Exceptions -> HTTP responses, in one place. Every error body is ``{"error": {type, message, details}}``.

``error_body`` is the one builder of that body (the body-size middleware uses it too); ``error_response``
turns a ``GenPulseError`` into a response by its ``status_code`` (with ``Retry-After`` on 429 and 503).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from genpulse.core.errors import GenPulseError
from genpulse.core.validation import field_errors, summary

log = logging.getLogger("genpulse.api")

_HTTP_TYPES = {
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(type_: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "details": details}}


def _respond(status: int, type_: str, message: str, details: Any = None, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(type_, message, details), status_code=status, headers=headers or None)


def error_response(exc: GenPulseError) -> JSONResponse:
    headers: dict[str, str] = {}
    if exc.status_code in (429, 503):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after or 1)))
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="genpulse"'
    if exc.status_code >= 500:
        log.warning("request failed: %s: %s", exc.type, exc.message)
    return _respond(exc.status_code, exc.type, exc.message, exc.details, **headers)


async def _genpulse_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GenPulseError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _respond(400, "malformed_request", "request body is not valid JSON")
    if any(e.get("type") == "model_attributes_type" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return _respond(400, "malformed_request", "request body must be a JSON object")
    details = field_errors(errors, drop=("body",))
    return _respond(422, "invalid_request", summary("invalid request", details, root="body"), details)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _respond(exc.status_code, _HTTP_TYPES.get(exc.status_code, "http_error"), str(exc.detail))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _respond(500, "internal_error", "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GenPulseError, _genpulse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
