"""One error tree for the whole gateway.

Foreign errors (httpx, redis, Ray, vendor replies, pydantic) are translated once, at the boundary where they
enter, into one of these. The HTTP layer maps them to responses in one place (``genpulse.api.error_responses``) by
``status_code``; a task records ``type``/``message``/``retryable``/``provider_code`` in its ``error`` field.

    GenPulseError                      500  base; ``type`` is the machine-readable name
    ├── InvalidRequest                 422  bad params, unknown provider/task type
    │   ├── MalformedRequest           400  body is not JSON / not an object
    │   └── ProviderNotConfigured      422  the provider has no credentials / servers configured
    ├── Unauthenticated                401  no API key, or an unknown, revoked or expired one
    ├── PermissionDenied               403  the key may not do this (admin route, provider out of its scopes)
    ├── InsufficientCredits            402  the tenant's balance cannot cover the task's hold
    ├── NotFound                       404  unknown task or asset id (or another tenant's)
    ├── Conflict                       409  CAS lost, idempotency key reused, terminal task
    ├── PayloadTooLarge                413
    ├── TooManyRequests                429  a key's requests/second or concurrent tasks (``retry_after``)
    ├── UnsupportedMediaType           415
    ├── ServiceUnavailable             503  a dependency (store, storage, deployment) is down
    ├── ConfigError                    ---  invalid AppArgs; fails the deploy
    └── ProviderError                  502  something went wrong running the job
        ├── ProviderAuthError               credentials refused (permanent)
        ├── ProviderInvalidInput            the vendor rejected the params (permanent)
        ├── ContentModerated                refused by moderation (permanent)
        ├── InsufficientBalance             account out of credit (permanent)
        ├── ProviderRateLimited             429 from the vendor (retryable, ``retry_after``)
        ├── ProviderServerError             5xx / transport failure (retryable)
        ├── ProviderTimeout                 no answer in time, or the task deadline passed (retryable)
        ├── MalformedReply                  reply we cannot parse, unknown status (permanent)
        ├── SubmitOutcomeUnknown            the vendor may have the job, we cannot find it (permanent, never paid twice)
        ├── ExecutionError                  local execution failed (diffusion, pipeline step)
        └── ResourceExhausted               out of (GPU) memory running it locally (permanent)
"""

from __future__ import annotations

from typing import Any


class GenPulseError(Exception):
    status_code = 500
    type = "internal_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        retryable: bool | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if retryable is not None:
            self.retryable = retryable
        self.provider_code = provider_code
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """The task-level error record (``Task.error``)."""
        return {
            "type": self.type,
            "message": self.message,
            "retryable": self.retryable,
            "provider_code": self.provider_code,
        }


class InvalidRequest(GenPulseError):
    status_code = 422
    type = "invalid_request"


class MalformedRequest(InvalidRequest):
    status_code = 400
    type = "malformed_request"


class ProviderNotConfigured(InvalidRequest):
    type = "provider_not_configured"


class Unauthenticated(GenPulseError):
    status_code = 401
    type = "unauthenticated"


class PermissionDenied(GenPulseError):
    status_code = 403
    type = "permission_denied"


class InsufficientCredits(GenPulseError):
    status_code = 402
    type = "insufficient_credits"


class TooManyRequests(GenPulseError):
    status_code = 429
    type = "rate_limited"
    retryable = True


class NotFound(GenPulseError):
    status_code = 404
    type = "not_found"


class Conflict(GenPulseError):
    status_code = 409
    type = "conflict"


class PayloadTooLarge(GenPulseError):
    status_code = 413
    type = "payload_too_large"


class UnsupportedMediaType(GenPulseError):
    status_code = 415
    type = "unsupported_media_type"


class ServiceUnavailable(GenPulseError):
    status_code = 503
    type = "service_unavailable"
    retryable = True


class ConfigError(GenPulseError):
    type = "config_error"


class ProviderError(GenPulseError):
    status_code = 502
    type = "provider_error"


class ProviderAuthError(ProviderError):
    type = "provider_auth_error"


class ProviderInvalidInput(ProviderError):
    type = "provider_invalid_input"


class ContentModerated(ProviderError):
    """Refused by moderation: never retryable, whatever a vendor's table says (the same input is refused again)."""

    type = "content_moderated"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **{**kwargs, "retryable": False})


class InsufficientBalance(ProviderError):
    type = "insufficient_balance"


class ProviderRateLimited(ProviderError):
    type = "provider_rate_limited"
    retryable = True


class ProviderServerError(ProviderError):
    type = "provider_server_error"
    retryable = True


class ProviderTimeout(ProviderError):
    type = "provider_timeout"
    retryable = True


class MalformedReply(ProviderError):
    type = "malformed_reply"


class SubmitOutcomeUnknown(ProviderError):
    type = "submit_outcome_unknown"


class ExecutionError(ProviderError):
    type = "execution_error"


class ResourceExhausted(ProviderError):
    type = "resource_exhausted"


def error_from_dict(data: dict[str, Any]) -> GenPulseError:
    """Rebuild an error recorded in a task (the inverse of ``to_dict``), for callers such as the SDK."""
    cls = _BY_TYPE.get(str(data.get("type")), GenPulseError)
    return cls(
        str(data.get("message", "")),
        retryable=bool(data.get("retryable", False)),
        provider_code=data.get("provider_code"),
    )


def _subclasses(cls: type[GenPulseError]) -> list[type[GenPulseError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out


_BY_TYPE: dict[str, type[GenPulseError]] = {c.type: c for c in _subclasses(GenPulseError)}
