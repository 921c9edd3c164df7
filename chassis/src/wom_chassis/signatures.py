"""Signed webhooks, one scheme everywhere: `X-Wom-Timestamp` (unix seconds) and
`X-Wom-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
import time
from functools import cache
from urllib.parse import urlsplit

import httpx

from wom_chassis.errors import Reported, error_code

__all__ = [
    "SIGNATURE_TOLERANCE_SECONDS",
    "WebhookFailed",
    "post_signed_webhook",
    "signature",
    "signature_is_valid",
    "webhook_client",
]

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
    if not secret or timestamp is None or not (timestamp.isascii() and timestamp.isdigit()):  # '²' is a digit
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))


@cache
def _tls() -> ssl.SSLContext:
    # loading the CA bundle costs tens of milliseconds of CPU: once per process, not per client
    return ssl.create_default_context()


def webhook_client(timeout_seconds: float) -> httpx.AsyncClient:
    """An HTTP client for signed webhooks, verifying TLS with the process' one default context
    (a client of its own would load the CA bundle again; a job made one every tick)."""
    return httpx.AsyncClient(timeout=timeout_seconds, verify=_tls())


class WebhookFailed(Reported, RuntimeError):
    """A signed webhook was not accepted: unreachable, timed out, or answered non-2xx
    (`status_code`, None when there was no answer). The message names the host only: a URL's
    path may hold a token."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


async def post_signed_webhook(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    secret: str,
    event: str,
    delivery_id: str,
    timeout_seconds: float,
) -> httpx.Response:
    """POST `body` (JSON) to `url`, signed (`X-Wom-Timestamp`, `X-Wom-Signature`) and named
    (`X-Wom-Event`, `X-Wom-Delivery`); the whole call bounded at twice `timeout_seconds` (httpx
    bounds each phase). The response when 2xx; `WebhookFailed` otherwise."""
    if not secret:
        raise ValueError("a webhook must be signed: the secret is empty")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Wom-Event": event,
        "X-Wom-Delivery": delivery_id,
        "X-Wom-Timestamp": timestamp,
        "X-Wom-Signature": signature(secret, timestamp, body),
    }
    host = urlsplit(url).netloc
    try:
        async with asyncio.timeout(2 * timeout_seconds):
            response = await client.post(url, content=body, headers=headers, timeout=timeout_seconds)
    except (httpx.HTTPError, TimeoutError) as error:
        raise WebhookFailed(f"webhook POST to {host} failed: {error_code(error)}") from error
    if not response.is_success:
        # not the answer's text: a receiver may echo what it was sent
        raise WebhookFailed(f"webhook {host} answered HTTP {response.status_code}", response.status_code)
    return response
