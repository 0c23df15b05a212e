"""Exceptions -> HTTP responses, in one place. Every error body is ``{"error": {type, message, details}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from genpulse.errors import GenPulseError

log = logging.getLogger("genpulse.api")

_HTTP_TYPES = {
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, type_: str, message: str, details: Any = None, **headers: str) -> JSONResponse:
    body = {"error": {"type": type_, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers or None)


async def _genpulse_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GenPulseError)
    headers: dict[str, str] = {}
    if exc.status_code in (429, 503):
        headers["Retry-After"] = str(int(exc.retry_after or 1))
    if exc.status_code >= 500:
        log.warning("request failed: %s: %s", exc.type, exc.message)
    return error_response(exc.status_code, exc.type, exc.message, exc.details, **headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_request", "request body is not valid JSON")
    if any(e.get("type") == "model_attributes_type" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(400, "malformed_request", "request body must be a JSON object")
    details = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "message": e.get("msg"),
            "type": e.get("type"),
        }
        for e in errors
    ]
    message = "; ".join(f"{d['field'] or 'body'}: {d['message']}" for d in details)
    return error_response(422, "invalid_request", f"invalid request: {message}", details)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    type_ = _HTTP_TYPES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, type_, str(exc.detail))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GenPulseError, _genpulse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
