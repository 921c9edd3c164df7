"""Signed webhooks, one scheme everywhere: `X-Wom-Timestamp` (unix seconds) and
`X-Wom-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`."""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_TOLERANCE_SECONDS", "signature", "signature_is_valid"]

SIGNATURE_TOLERANCE_SECONDS = 300
"""How far a signed request's timestamp may be from now (older ones are replays)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Wom-Signature` header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_is_valid(
    secret: str, timestamp: str | None, given: str, body: bytes, *, now: float | None = None
) -> bool:
    """True for a signature made with `secret` over `body` at a timestamp close enough to now."""
    if timestamp is None or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))
