"""OpenAI's error shape on the OpenAI-compatible routes: ``{"error": {"message", "type", "param", "code"}}``.

``OpenAIRoute`` (the routers' ``route_class``) turns whatever a route, its validation or its dependencies (the
caller's key) raise into that shape, so the rest of the API keeps GenPulse's own envelope. ``code`` is GenPulse's
error type (``not_found``, ``insufficient_credits``, ...) or one of this package's codes (``model_not_found``,
``unsupported_parameter``, ``task_timeout``, ``task_failed``). Every error but 429 and 503 carries
``x-should-retry: false``: the SDKs retry 5xx by default, and a retried generation is a second job. A body over
``server.max_body_bytes`` is refused before any route runs (``genpulse.api.body_limit``); on the paths under
``PATHS`` it is ``too_large``'s 413 in this shape too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from genpulse.core.errors import GenPulseError

_TYPES = {401: "authentication_error", 402: "insufficient_quota", 403: "permission_error", 429: "rate_limit_error"}
_RETRYABLE = (429, 503)
_HTTP_CODES = {413: "payload_too_large"}  # Starlette HTTPExceptions raised under a route (the body limit mid-read)
PATHS = ("/v1/models", "/v1/images/", "/v1/videos")  # where this package's routes live


class OpenAIError(Exception):
    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None, type_: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type_ or _type_of(status)


def _type_of(status: int) -> str:
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_response(exc: OpenAIError, retry_after: float | None = None) -> JSONResponse:
    body = {"error": {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code}}
    headers = {"x-should-retry": "true" if exc.status in _RETRYABLE else "false"}
    if exc.status in _RETRYABLE:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after or 1)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="genpulse"'
    return JSONResponse(body, status_code=exc.status, headers=headers)


def too_large(max_bytes: int) -> OpenAIError:
    return OpenAIError(413, f"request body exceeds {max_bytes} bytes", code="payload_too_large")


def from_genpulse(exc: GenPulseError) -> OpenAIError:
    """422 (a param the provider refused) is a 400 in OpenAI's API; the field is the ``param``."""
    details = exc.details if isinstance(exc.details, dict) else {}
    field = details.get("field")
    status = 400 if exc.status_code == 422 else exc.status_code
    return OpenAIError(status, exc.message, param=str(field) if field else None, code=exc.type)


def from_validation(exc: RequestValidationError) -> OpenAIError:
    errors = exc.errors()
    extra = [_name(e) for e in errors if e.get("type") == "extra_forbidden"]
    if extra:
        return OpenAIError(
            400, f"unsupported parameter(s): {', '.join(extra)}", param=extra[0], code="unsupported_parameter"
        )
    first = errors[0] if errors else {}
    param = _name(first) or None
    message = f"{param}: {first.get('msg', 'invalid')}" if param else str(first.get("msg", "invalid request"))
    return OpenAIError(400, message, param=param, code="invalid_value")


def _name(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
    return ".".join(loc)


class OpenAIRoute(APIRoute):
    """A route whose errors, whatever raised them, answer in OpenAI's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as exc:
                return error_response(exc)
            except GenPulseError as exc:
                return error_response(from_genpulse(exc), exc.retry_after)
            except RequestValidationError as exc:
                return error_response(from_validation(exc))
            except StarletteHTTPException as exc:
                return error_response(
                    OpenAIError(exc.status_code, str(exc.detail), code=_HTTP_CODES.get(exc.status_code))
                )

        return route
