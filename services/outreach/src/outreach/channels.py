"""The channels a message goes out on: email over SMTP (marketing mail carries a one-click
unsubscribe, RFC 2369 and RFC 8058) and a signed JSON webhook for an SMS or chat provider.

A channel sends one message or raises; retries, backoff and the outcome events belong to the
caller (delivery).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Protocol

from wom_chassis import get_logger
from wom_chassis.mail import MailPool
from wom_chassis.mime import Mail
from wom_chassis.signatures import WebhookFailed, post_signed_webhook, webhook_client

from outreach.kinds import MessageClass, kind_of
from outreach.settings import OutreachSettings
from outreach.templates import Rendered

__all__ = [
    "WEBHOOK_EVENT",
    "WEBHOOK_TIMEOUT_SECONDS",
    "Channel",
    "ChannelError",
    "EmailChannel",
    "Outgoing",
    "WebhookChannel",
    "build_channels",
    "channels_for",
    "webhook_body",
]

log = get_logger(__name__)

WEBHOOK_EVENT = "outreach.message"
WEBHOOK_TIMEOUT_SECONDS = 10.0
"""httpx's limit per phase (connect, write, read); the whole POST is bounded at twice that."""

_HEADER_URL = re.compile(r"^https?://[^\s<>\"]+$")


@dataclass(frozen=True)
class Outgoing:
    """One message ready to leave on a channel: rendered, addressed, classified."""

    message_id: str
    kind: str
    message_class: MessageClass
    customer_id: str
    recipient: str | None
    """the email address; the webhook channel never sends it"""
    locale: str
    rendered: Rendered
    unsubscribe_url: str | None = None
    """set for marketing messages: becomes the List-Unsubscribe header of the email"""
    case_id: str | None = None
    """set for a case's mails (`Kind.thread`): they are one thread in the customer's mailbox"""


class ChannelError(RuntimeError):
    """A message could not be handed over on a channel; the caller retries later."""


class Channel(Protocol):
    """Sends one message, or raises."""

    async def send(self, out: Outgoing) -> None:
        """Hand `out` over to the channel's provider; raise on failure."""


class EmailChannel:
    """Sends one multipart (text + HTML) email through the service's pool of SMTP connections."""

    def __init__(self, settings: OutreachSettings, pool: MailPool) -> None:
        self.pool = pool
        self.composer = settings.composer()

    def compose(self, out: Outgoing) -> Mail:
        """The email for `out`: marketing mail with an unsubscribe URL gets the one-click headers."""
        if not out.recipient:
            raise ChannelError(f"message {out.message_id}: the contact has no email address")
        rendered = out.rendered
        headers = [
            ("X-Wom-Message-Id", out.message_id),
            ("X-Wom-Kind", out.kind),  # lets mail tools (and the end-to-end tests) sort by kind
        ]
        if out.message_class == "marketing":
            if out.unsubscribe_url:
                # as one line, verbatim: RFC 2369 allows no encoded words in it, and 998 is the limit
                headers.append(("List-Unsubscribe", f"<{_header_url(out)}>"))
                headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
            else:
                log.warning("marketing_mail_without_unsubscribe", message_id=out.message_id, kind=out.kind)
        headers.append(("Content-Language", rendered.locale))
        thread = kind_of(out.kind).thread if out.case_id else None
        root = self.composer.thread_id(f"case:{out.case_id}") if thread else None
        if thread == "joins" and root:  # the apology started it (RFC 5322 3.6.4): the rest answer it
            headers += [("In-Reply-To", root), ("References", root)]
        return self.composer.compose(
            out.recipient,
            rendered.subject,
            rendered.text,
            rendered.html,
            headers=headers,
            idstring=out.message_id,
            message_id=root if thread == "starts" else None,
        )

    async def send(self, out: Outgoing) -> None:
        """Send `out` to its recipient; raise when the relay refuses or cannot be reached."""
        await self.pool.send(self.compose(out))


def _header_url(out: Outgoing) -> str:
    url = out.unsubscribe_url or ""
    if not _HEADER_URL.match(url):  # it goes into a header verbatim: no spaces, brackets or newlines
        raise ChannelError(f"message {out.message_id}: the unsubscribe URL is not a plain http(s) URL")
    return url


def webhook_body(out: Outgoing) -> bytes:
    """The webhook's JSON body (compact, keys sorted): no email address, nothing beyond the text."""
    payload = {
        "message_id": out.message_id,
        "kind": out.kind,
        "class": out.message_class,
        "customer_id": out.customer_id,
        "locale": out.rendered.locale,
        "subject": out.rendered.subject,
        "text": out.rendered.text,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class WebhookChannel:
    """POSTs a message as signed JSON to the configured webhook (an SMS or chat provider's relay)."""

    def __init__(
        self, settings: OutreachSettings, *, timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS
    ) -> None:
        self.settings = settings
        self.timeout_seconds = timeout_seconds

    async def send(self, out: Outgoing) -> None:
        """POST `out`; raise when the webhook is not configured, unreachable, or answers non-2xx."""
        url = self.settings.outreach_webhook_url
        secret = self.settings.outreach_webhook_secret
        if not url:
            raise ChannelError("OUTREACH_WEBHOOK_URL is not set: the webhook channel has nowhere to post")
        if secret is None or not secret.get_secret_value():
            raise ChannelError("OUTREACH_WEBHOOK_SECRET is not set: webhook messages must be signed")
        try:
            async with webhook_client(self.timeout_seconds) as client:
                await post_signed_webhook(
                    client,
                    url,
                    webhook_body(out),
                    secret=secret.get_secret_value(),
                    event=WEBHOOK_EVENT,
                    delivery_id=out.message_id,
                    timeout_seconds=self.timeout_seconds,
                )
        except WebhookFailed as failed:
            raise ChannelError(str(failed)) from failed


def channels_for(kind: str, settings: OutreachSettings) -> list[str]:
    """The channels a message of `kind` goes out on: always email, and the webhook for the kinds
    listed in `outreach_webhook_kinds` when a webhook URL is configured."""
    channels = ["email"]
    if kind in settings.outreach_webhook_kinds and settings.outreach_webhook_url:
        channels.append("webhook")
    return channels


def build_channels(settings: OutreachSettings, pool: MailPool) -> dict[str, Channel]:
    """Every channel by the name `channels_for` uses; email goes out through `pool`."""
    return {"email": EmailChannel(settings, pool), "webhook": WebhookChannel(settings)}
