"""Request signing for vendors that do not take a plain bearer key. Pure functions; no I/O, no clock reads.

- ``volc_sign``: VolcEngine "HMAC-SHA256" (SigV4-like; secret used as-is, scope ends in ``request``).
- ``tc3_sign``: Tencent Cloud TC3-HMAC-SHA256 (secret prefixed with ``TC3``, scope ends in ``tc3_request``).
- ``hs256_jwt`` / ``JwtCache``: the Kling bearer token (JWT HS256, ``iss`` = access key), renewed before expiry.

Each signer returns the headers to send, which include everything it signed. ``canonical_*`` and
``string_to_sign`` are exposed so tests can reproduce the vendors' published vectors step by step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_query(query: Mapping[str, str]) -> str:
    """Names and values encoded with only ``A-Za-z0-9-_.~`` unescaped, sorted by name."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(str(v), safe='-_.~')}" for k, v in sorted(query.items()))


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed: list[str], body: bytes
) -> str:
    """The shared SigV4-style canonical request; ``headers`` keyed by lower-case name."""
    block = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    return "\n".join([method.upper(), path, query, block, ";".join(signed), sha256_hex(body)])


# VolcEngine ------------------------------------------------------------------------------------------------


def volc_signature(secret_key: str, x_date: str, region: str, service: str, creq: str) -> tuple[str, str]:
    """``(string_to_sign, hex signature)`` for a Volc canonical request."""
    day = x_date[:8]
    scope = f"{day}/{region}/{service}/request"
    sts = "\n".join(["HMAC-SHA256", x_date, scope, sha256_hex(creq.encode())])
    key = secret_key.encode()
    for part in (day, region, service, "request"):
        key = _hmac(key, part)
    return sts, hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def volc_sign(
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    host: str,
    query: Mapping[str, str],
    body: bytes,
    now: float,
    method: str = "POST",
    path: str = "/",
    content_type: str = "application/json",
    session_token: str | None = None,
) -> dict[str, str]:
    """Headers for a signed Volc request (``Host`` included; httpx sends the same value)."""
    x_date = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": content_type,
        "host": host,
        "x-content-sha256": sha256_hex(body),
        "x-date": x_date,
    }
    if session_token:
        headers["x-security-token"] = session_token
    signed = sorted(headers)
    creq = canonical_request(method, quote(path, safe="/-_.~"), canonical_query(query), headers, signed, body)
    _, signature = volc_signature(secret_key, x_date, region, service, creq)
    scope = f"{x_date[:8]}/{region}/{service}/request"
    headers["authorization"] = (
        f"HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return headers


# Tencent Cloud ---------------------------------------------------------------------------------------------


def tc3_signature(secret_key: str, timestamp: int, service: str, creq: str) -> tuple[str, str]:
    """``(string_to_sign, hex signature)`` for a TC3 canonical request."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    sts = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, sha256_hex(creq.encode())])
    key = ("TC3" + secret_key).encode()
    for part in (day, service, "tc3_request"):
        key = _hmac(key, part)
    return sts, hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def tc3_sign(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    action: str,
    version: str,
    region: str | None,
    body: bytes,
    now: float,
    content_type: str = "application/json; charset=utf-8",
    token: str | None = None,
) -> dict[str, str]:
    """Headers for a signed Tencent Cloud API 3.0 ``POST /`` call; signs ``content-type;host;x-tc-action``."""
    timestamp = int(now)
    canonical = {"content-type": content_type.lower(), "host": host.lower(), "x-tc-action": action.lower()}
    signed = sorted(canonical)
    creq = canonical_request("POST", "/", "", canonical, signed, body)
    _, signature = tc3_signature(secret_key, timestamp, service, creq)
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    headers = {
        "content-type": content_type,
        "host": host,
        "x-tc-action": action,
        "x-tc-version": version,
        "x-tc-timestamp": str(timestamp),
        "authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{day}/{service}/tc3_request, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}",
    }
    if region:
        headers["x-tc-region"] = region
    if token:
        headers["x-tc-token"] = token
    return headers


# JWT (Kling) -----------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_jwt(claims: Mapping[str, object], secret: str) -> str:
    """A compact JWT: header ``{"alg":"HS256","typ":"JWT"}``, compact JSON, key order as given."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


class JwtCache:
    """Kling's token: ``{"iss": ak, "exp": now+ttl, "nbf": now-5}``, reused until ``renew_before_s`` of expiry."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        ttl_s: int = 1800,
        renew_before_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ak, self._sk, self._ttl, self._renew, self._clock = access_key, secret_key, ttl_s, renew_before_s, clock
        self._token: str | None = None
        self._exp = 0

    def token(self) -> str:
        now = int(self._clock())
        if self._token is None or now >= self._exp - self._renew:
            self._exp = now + self._ttl
            self._token = hs256_jwt({"iss": self._ak, "exp": self._exp, "nbf": now - 5}, self._sk)
        return self._token
