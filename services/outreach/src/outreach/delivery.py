"""Delivery of queued messages over SMTP, with retries; each outcome is an outbox event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import Database, get_logger, utcnow
from wom_chassis.mail import send_mail
from wom_chassis.outbox import add_to_outbox, outbox_row
from wom_contracts import Event, MessageFailedV1, MessageSentV1

from outreach.models import Contact, Message
from outreach.settings import OutreachSettings
from outreach.templates import Rendered, Templates

__all__ = ["Mailer", "deliver_due", "run_delivery"]

log = get_logger(__name__)


class Mailer:
    """Sends one email through the configured SMTP server."""

    def __init__(self, settings: OutreachSettings) -> None:
        self.settings = settings

    async def send(self, recipient: str, rendered: Rendered, message_id: str) -> None:
        """Send `rendered` to `recipient` as a multipart (text + HTML) email."""
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = recipient
        mail["Subject"] = rendered.subject
        mail["Message-ID"] = make_msgid(idstring=message_id, domain="wom.localhost")
        mail["X-Wom-Message-Id"] = message_id
        mail.set_content(rendered.text)
        mail.add_alternative(rendered.html, subtype="html")
        mail["Content-Language"] = rendered.locale  # after the body: set_content drops Content-*
        await send_mail(self.settings, mail)


async def deliver_due(
    db: Database,
    mailer: Mailer,
    templates: Templates,
    settings: OutreachSettings,
    limit: int = 50,
) -> int:
    """Send every queued message that is due; return how many were attempted."""
    async with db.session() as session:
        due = (
            await session.scalars(
                select(Message.id)
                .where(Message.status == "queued", Message.next_attempt_at <= utcnow())
                .order_by(Message.created_at)
                .limit(limit)
            )
        ).all()
    for message_id in due:
        await _deliver_one(db, mailer, templates, settings, message_id)
    return len(due)


async def _deliver_one(
    db: Database,
    mailer: Mailer,
    templates: Templates,
    settings: OutreachSettings,
    message_id: str,
) -> None:
    # Read, send, then write: no database write lock is held while the SMTP server answers.
    async with db.session() as session:
        queued = await session.get(Message, message_id)
        contact = await session.get(Contact, queued.customer_id) if queued else None
    if queued is None or queued.status != "queued":
        return
    rendered, error = None, None
    if contact is not None:
        try:
            rendered = templates.render(
                queued.kind, contact.locale, {"first_name": contact.first_name, **queued.data}
            )
            await mailer.send(contact.email, rendered, queued.id)
        except Exception as failure:
            error = failure
    async with db.transaction() as session:
        message = await session.get(Message, message_id)
        if message is None or message.status != "queued":
            return  # erased or handled meanwhile
        if contact is None:
            message.status = "waiting"
            return
        message.attempts += 1
        if rendered is None or error is not None:
            _record_failure(message, error or RuntimeError("not rendered"), settings)
            if message.status == "failed":
                await _announce(session, settings, MessageFailedV1(
                    customer_id=message.customer_id, message_id=message.id, kind=message.kind,
                    channel="email", locale=contact.locale, cause_event_id=message.cause_event_id,
                    error=message.last_error or "", attempts=message.attempts, occurred_at=utcnow(),
                ))  # fmt: skip
            return
        message.status, message.sent_at = "sent", utcnow()
        message.recipient, message.locale, message.subject = (
            contact.email, rendered.locale, rendered.subject,
        )  # fmt: skip
        await _announce(session, settings, MessageSentV1(
            customer_id=message.customer_id, message_id=message.id, kind=message.kind,
            channel="email", locale=rendered.locale, template=f"{message.kind}/{rendered.locale}",
            cause_event_id=message.cause_event_id, occurred_at=message.sent_at,
        ))  # fmt: skip
    log.info("message_sent", message_id=message_id, kind=queued.kind)


async def _announce(session: AsyncSession, settings: OutreachSettings, event: Event) -> None:
    await add_to_outbox(session, [outbox_row(event, source=settings.event_source)])


def _record_failure(message: Message, error: Exception, settings: OutreachSettings) -> None:
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    if message.attempts >= settings.delivery_max_attempts:
        message.status = "failed"
        log.error("message_failed", message_id=message.id, error=message.last_error)
        return
    delay = settings.delivery_retry_seconds * 2 ** (message.attempts - 1)
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    log.warning("message_retry_later", message_id=message.id, error=message.last_error, retry_in=delay)


async def run_delivery(
    db: Database,
    mailer: Mailer,
    templates: Templates,
    settings: OutreachSettings,
    wake_relay: Callable[[], None],
) -> None:
    """Deliver due messages until cancelled; wake the outbox relay after each round."""
    while True:
        try:
            attempted = await deliver_due(db, mailer, templates, settings)
        except Exception as error:
            log.error("delivery_loop_error", error=repr(error))
            attempted = 0
        if attempted:
            wake_relay()
        else:
            await asyncio.sleep(settings.delivery_interval_seconds)
