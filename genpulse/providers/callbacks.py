"""Vendor callbacks: the per-task URL a vendor POSTs to when its job changes, and the token that guards it.

With ``server.public_url`` set, a vendor that accepts a ``callback_url`` (``CloudProvider.accepts_callback``:
Kling) is given ``{public_url}/v1/callbacks/{provider}/{task_id}?token=T`` on submit. ``T`` is derived, never
stored: HMAC-SHA256 of ``server.callback_secret`` over the provider and the task id, so every ingress replica
checks it without a store read, and it is unguessable without the secret. Nothing logs it (Serve's access log
records the route template, not the query string; GenPulse never logs callback URLs).

A callback changes nothing by itself: its body is not trusted (no vendor among ours signs its callbacks:
``docs/providers.md``), so it only wakes the worker that owns the task, which polls the vendor at once over the
configured API (the same state change a poll makes). No URL in a callback is ever fetched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from genpulse.core.config import AppArgs

CALLBACK_PATH = "/v1/callbacks"


class VendorCallbacks:
    def __init__(self, public_url: str, secret: str, safety_poll_s: float = 60.0) -> None:
        self.public_url, self._key, self.safety_poll_s = public_url.rstrip("/"), secret.encode(), safety_poll_s

    @classmethod
    def from_args(cls, args: AppArgs) -> VendorCallbacks | None:
        """The callbacks of this config; None when they are off (no ``server.public_url``)."""
        server = args.server
        if server.public_url is None or server.callback_secret is None:
            return None
        return cls(server.public_url, server.callback_secret.get_secret_value(), server.callback_safety_poll_s)

    def token(self, provider: str, task_id: str) -> str:
        mac = hmac.new(self._key, f"genpulse-callback:v1:{provider}:{task_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def url(self, provider: str, task_id: str) -> str:
        path = f"{CALLBACK_PATH}/{quote(provider, safe='')}/{quote(task_id, safe='')}"
        return f"{self.public_url}{path}?token={self.token(provider, task_id)}"

    def verify(self, provider: str, task_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(provider, task_id).encode(), token.encode())
