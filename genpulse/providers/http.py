"""HTTP at the vendor boundary: send a request, translate transport failures and HTTP statuses once.

``send_json`` returns the decoded JSON body of a 2xx reply. Non-2xx replies are turned into our error tree by
``status_error`` unless the caller passes ``classify`` to map vendor-specific codes first (it returns an error
or None to fall back to the generic mapping). Transport errors become ``ProviderServerError`` (retryable) or
``ProviderTimeout`` with ``details["request_sent"]`` saying whether the vendor may have received the request;
a body that is not JSON becomes ``MalformedReply``.

Every error raised here also says whether the vendor surely refused the request (``refused``): a reply in the
vendor's own error envelope (``classify`` recognised it: a documented code, rate limit or server error alike),
a request that never left, or an error status that proxies do not invent (4xx but 408). Anything else — a bare
502/503/504 or 408, a read timeout, a reset connection, an unreadable 2xx — may hide a job the vendor created:
the vendor runner never resubmits after one of those without asking the vendor first.

``fails_over`` narrows ``refused`` to what another account may take: the vendor, or this account at it, refused
(unreachable, rate limited, a server error, out of credit, credentials refused), not the request itself (its
params, its content). ``out_reason`` narrows it further, to what outlasts the request: the account out of credit,
its credentials refused, the vendor unreachable; such an instance is marked out for routing for a while.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx

from genpulse.core.errors import (
    GenPulseError,
    InsufficientBalance,
    MalformedReply,
    ProviderAuthError,
    ProviderInvalidInput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)

Classify = Callable[[int, Any], GenPulseError | None]
log = logging.getLogger("genpulse.vendor")

_URL = re.compile(r"\b(?:https?|wss?)://[^\s'\"<>]+")
_BLOB = re.compile(r"[A-Za-z0-9+/_=-]{80,}")  # base64 payloads, tokens, signatures
MESSAGE_CHARS = 300


def public_message(text: str) -> str:
    """``text`` fit for a user: vendor URLs (signed ones included) and long encoded blobs removed, capped."""
    text = _BLOB.sub("<data>", _URL.sub("<url>", text))
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def vendor_message(body: Any) -> str | None:
    """The human message in a vendor's error body, wherever the common envelopes keep it."""
    if not isinstance(body, dict):
        return None
    containers = [body, body.get("error")]
    for outer in ("ResponseMetadata", "Response"):  # Volcengine Visual, Tencent Cloud
        if isinstance(body.get(outer), dict):
            containers.append(body[outer].get("Error"))
    for container in containers:
        if isinstance(container, dict):
            for key in ("message", "Message", "msg", "error_msg", "error_description"):
                if isinstance(container.get(key), str) and container[key]:
                    return container[key]
    return None


def mark(exc: GenPulseError, *, refused: bool) -> GenPulseError:
    """Record on ``exc`` whether the vendor surely refused the request (see the module docstring)."""
    details = exc.details if isinstance(exc.details, dict) else ({} if exc.details is None else {"info": exc.details})
    exc.details = {**details, "refused": refused}
    return exc


def refused(exc: BaseException) -> bool:
    """Whether ``exc`` proves the vendor did not take the request (only errors marked so by ``mark``)."""
    details = getattr(exc, "details", None)
    return isinstance(details, dict) and details.get("refused") is True


_ACCOUNT_REFUSALS = (ProviderRateLimited, ProviderServerError, ProviderTimeout, InsufficientBalance, ProviderAuthError)


def fails_over(exc: BaseException) -> bool:
    """Whether ``exc`` proves the vendor did not take the request for a reason of the vendor or this account (see
    the module docstring): the next route of a model alias, another account, may take it."""
    return refused(exc) and isinstance(exc, _ACCOUNT_REFUSALS)


def out_reason(exc: BaseException) -> str | None:
    """Why ``exc`` puts this account out of routing for a while (``arrears``, ``credentials``, ``unreachable``: no
    connection made); None for a refusal that says nothing about the next request (a rate limit, a server error)."""
    if not refused(exc):
        return None
    if isinstance(exc, InsufficientBalance):
        return "arrears"
    if isinstance(exc, ProviderAuthError):
        return "credentials"
    details = getattr(exc, "details", None)
    if isinstance(exc, ProviderServerError | ProviderTimeout) and isinstance(details, dict):
        return "unreachable" if details.get("request_sent") is False else None
    return None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def transport_error(provider: str, method: str, url: str, exc: httpx.HTTPError) -> GenPulseError:
    """A request that got no reply. ``details.request_sent`` tells whether the vendor may have received it."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    details = {"request_sent": not never_sent, "refused": never_sent}
    where = f"{provider}: {method} {httpx.URL(url).path}"  # no host, no query (signatures) in what users see
    log.info("%s: %s %s failed: %r", provider, method, url, exc)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{where}: timed out ({type(exc).__name__})", details=details)
    return ProviderServerError(f"{where}: {type(exc).__name__}", details=details)


def status_error(provider: str, status: int, body: Any, retry_after_s: float | None = None) -> GenPulseError:
    """The generic mapping of an HTTP error status."""
    said = vendor_message(body)
    message = f"{provider}: HTTP {status}" + (f": {public_message(said)}" if said else "")
    log.info("%s: HTTP %s: %s", provider, status, (json.dumps(body) if not isinstance(body, str) else body)[:1000])
    if status in (401, 403):
        return ProviderAuthError(message, provider_code=str(status))
    if status == 402:
        return InsufficientBalance(message, provider_code=str(status))
    if status == 429:
        return ProviderRateLimited(message, provider_code=str(status), retry_after=retry_after_s)
    if status == 408 or status == 504:
        return ProviderTimeout(message, provider_code=str(status))
    if status >= 500:
        return ProviderServerError(message, provider_code=str(status))
    return ProviderInvalidInput(message, provider_code=str(status))


async def send_json(
    client: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    classify: Classify | None = None,
    timeout: float | None = None,
    **kwargs: Any,
) -> Any:
    # A per-call timeout bounds the vendor exchange, never the wait for a pooled connection (that is queueing).
    limit: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout, pool=None)
    try:
        response = await client.request(method, url, timeout=limit, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(provider, method, url, exc) from None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
        if response.is_success:
            log.info("%s: %s %s: reply is not JSON: %r", provider, method, url, body[:1000])
            error = MalformedReply(f"{provider}: {method} {httpx.URL(url).path}: reply is not JSON ({len(body)} chars)")
            raise mark(error, refused=False) from None
    if not response.is_success or classify is not None:
        mapped = classify(response.status_code, body) if classify is not None else None
        if mapped is not None:
            if isinstance(mapped, ProviderRateLimited) and mapped.retry_after is None:
                mapped.retry_after = retry_after(response)
            raise mark(mapped, refused=True)  # the vendor's own envelope: it answered, and it said no
        if not response.is_success:
            status = response.status_code
            error = status_error(provider, status, body, retry_after(response))
            raise mark(error, refused=status < 500 and status != 408)
    return body
