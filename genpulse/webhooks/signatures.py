"""Standard Webhooks signatures (https://www.standardwebhooks.com), for senders and receivers.

A message is signed as ``v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`` where the key
is the base64 part of the secret ``whsec_<base64>``. ``webhook-signature`` may carry several space-separated
signatures (key rotation); a receiver accepts the message if any ``v1`` one matches. ``verify`` also refuses
timestamps outside a tolerance, against replays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

PREFIX = "whsec_"


class InvalidSignature(Exception):
    """The message is not signed by the secret, or its timestamp is outside the tolerance."""


def parse_secret(secret: str) -> bytes:
    """The key bytes of ``whsec_<base64>``; ``ValueError`` naming the problem otherwise."""
    if not secret.startswith(PREFIX):
        raise ValueError("webhook secret must look like whsec_<base64>")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("webhook secret: the part after whsec_ is not valid base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("webhook secret must decode to 24..64 bytes")
    return key


def new_secret() -> str:
    """A fresh secret in ``whsec_`` form (32 random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    signed = f"{msg_id}.{timestamp}.".encode() + raw
    digest = hmac.new(parse_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    received: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> None:
    """Raise ``InvalidSignature`` unless ``received`` headers sign ``body`` with ``secret`` within the tolerance."""
    lowered = {k.lower(): v for k, v in received.items()}
    msg_id, stamp, signatures = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and signatures):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not an integer") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise InvalidSignature("webhook-timestamp is outside the tolerance")
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures.split() if s.startswith("v1,")):
        raise InvalidSignature("no matching v1 signature")
