"""Who is calling: API keys to a ``Principal``, once per request (docs/tenants.md).

- ``auth.mode: off``: every caller is the built-in tenant and may use the admin routes too. It is refused
  (``check_exposure``) when the HTTP server listens on anything but loopback.
- ``auth.mode: keys``: ``Authorization: Bearer <key>``. The admin key (config) opens the admin routes and
  ``/metrics``; a tenant key (``gp_...``, made by ``POST /v1/admin/tenants/{id}/keys``) opens the tenant's own
  routes. A key is looked up by the SHA-256 of the secret in the store on every request, so a revocation holds
  at once in every ingress replica; its request bucket (``limits.requests_per_s``) is the store's, cluster-wide.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass

from genpulse.core.config import AuthConfig
from genpulse.core.errors import ConfigError, NotFound, PermissionDenied, TooManyRequests, Unauthenticated
from genpulse.tenants.account_store import AccountStore
from genpulse.tenants.models import DEFAULT_TENANT, ApiKey

KEY_PREFIX = "gp_"
SHOWN_PREFIX_CHARS = 10


@dataclass(frozen=True)
class Principal:
    """A caller: a tenant (through one of its keys, or the built-in tenant with auth off) and/or the admin."""

    tenant_id: str | None
    admin: bool = False
    key: ApiKey | None = None

    def tenant(self) -> str:
        """The tenant this caller acts as; the admin key alone has none."""
        if self.tenant_id is None:
            raise PermissionDenied("the admin key opens /v1/admin routes only; use a tenant's API key here")
        return self.tenant_id

    def require_admin(self) -> None:
        if not self.admin:
            raise PermissionDenied("this route needs the admin key")


OPEN = Principal(DEFAULT_TENANT, admin=True)  # auth off: the built-in tenant, admin too


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    return token.strip()


async def authenticate(authorization: str | None, auth: AuthConfig, store: AccountStore) -> Principal:
    if auth.mode == "off":
        return OPEN
    token = bearer(authorization)
    admin = auth.admin_key.get_secret_value() if auth.admin_key else None
    if admin is not None and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(None, admin=True)
    if not token.startswith(KEY_PREFIX):
        raise Unauthenticated("unknown API key")
    try:
        key = await store.key_by_hash(key_hash(token))
    except NotFound:
        raise Unauthenticated("unknown API key") from None
    if key.revoked_at is not None:
        raise Unauthenticated("this API key was revoked")
    if not key.usable(time.time()):
        raise Unauthenticated("this API key has expired")
    if key.limits.requests_per_s is not None:
        wait = await store.key_hit(key.id, key.limits.requests_per_s)
        if wait is not None:
            raise TooManyRequests(
                f"this API key allows {key.limits.requests_per_s:g} requests per second",
                details={"limit": "requests_per_s", "value": key.limits.requests_per_s},
                retry_after=wait,
            )
    return Principal(key.tenant_id, key=key)


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(auth: AuthConfig, host: str | None) -> None:
    """Refuse to serve with auth off on anything but loopback (``host`` None: unknown, so refused too)."""
    if auth.mode == "off" and not is_loopback(host):
        raise ConfigError(
            f"auth.mode is off but the HTTP server listens on {host or 'an unknown address'}: set "
            "GENPULSE_AUTH__MODE=keys (and GENPULSE_AUTH__ADMIN_KEY), or listen on 127.0.0.1"
        )
