"""Delivery: due messages pass the consent and frequency ledger at send time, are rendered in the
customer's language and handed to their channel, with retries and backoff; every outcome is an
event (sent, failed, suppressed).

The chassis' delivery engine (`wom_chassis.delivery`) runs the rounds: it claims up to
`delivery_round_size` due messages, leases those `outreach.admission` admits (one per customer),
sends them `smtp_connections` at a time with no transaction open, mail over the service's pool of
SMTP connections (a connection that hangs holds up its own message only, for at most the SMTP
timeout), and records the outcomes as they come, each only while its lease holds. This module is
outreach's part: admission, rendering and the channel, and what a sent or failed message records.
Each message is admitted, sent and recorded in the trace of the event that queued it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from jinja2 import TemplateError
from sqlalchemy import Table, bindparam, update
from wom_chassis import Service, UnitOfWork, get_logger
from wom_chassis.delivery import Backoff, DeliveryEngine, Leased, Outcome, SendRefused
from wom_chassis.errors import error_code
from wom_chassis.mail import MailPool
from wom_chassis.tracing import continue_trace
from wom_contracts import MessageSentV1

from outreach.admission import Admitted, admit_messages, first_of_each_customer
from outreach.channels import WEBHOOK_TIMEOUT_SECONDS, Channel, Outgoing, build_channels
from outreach.messaging import fail
from outreach.models import Message
from outreach.rules import Rules
from outreach.settings import OutreachSettings
from outreach.templates import Rendered, Templates

__all__ = ["Delivery"]

log = get_logger(__name__)


@dataclass
class Delivery:
    """Sends due messages; one instance per service, its mail over one pool of SMTP connections."""

    rules: Rules
    settings: OutreachSettings
    templates: Templates

    model = Message
    pending = "queued"

    def __post_init__(self) -> None:
        self.pool = MailPool(self.settings)
        self.channels: dict[str, Channel] = build_channels(self.settings, self.pool)
        settings = self.settings
        self.engine: DeliveryEngine[Admitted] = DeliveryEngine(
            self,
            name="message",
            backoff=Backoff(
                first_seconds=settings.delivery_retry_seconds,
                max_attempts=settings.delivery_max_attempts,
                jitter_seconds=settings.delivery_retry_seconds / 2,
            ),
            round_size=settings.delivery_round_size,
            concurrency=settings.smtp_connections,
            # the pool waits up to the SMTP timeout a step (connect, each answer); the webhook
            # channel bounds its POST at twice its own
            send_timeout_seconds=max(4 * settings.smtp_timeout_seconds, 2 * WEBHOOK_TIMEOUT_SECONDS),
        )

    async def deliver_due(self, service: Service) -> int:
        """One round of the messages due now (see the module's docstring); how many it took up."""
        return await self.engine.deliver_round(service)

    async def close(self) -> None:
        """Say goodbye on the idle SMTP connections (the next round opens new ones)."""
        await self.pool.close()

    async def run(self, service: Service) -> None:
        """Deliver due messages until cancelled (a background task of the service)."""
        try:
            while True:
                try:
                    tried = await self.deliver_due(service)
                except Exception as error:
                    log.error("delivery_loop_error", error=error_code(error))
                    tried = 0
                if not tried:
                    await self.close()  # no connection is held open while nothing is due
                    await asyncio.sleep(self.settings.delivery_every_seconds)
        finally:
            await self.close()

    # the engine's Outbound: outreach's part of a round

    def due(self, statement: Any) -> Any:
        """Due messages in the order they were queued."""
        return statement.order_by(Message.created_at)

    def take(self, rows: Sequence[Any]) -> Sequence[Any]:
        """The earliest due message of each customer: the next must see its outcome through the
        ledger, in a later round."""
        return first_of_each_customer(rows)

    async def admit(
        self, uow: UnitOfWork[None], rows: Sequence[Any], now: datetime
    ) -> list[tuple[Any, Admitted]]:
        """The ledger's verdict on the round (`outreach.admission`)."""
        return list(await admit_messages(uow, rows, rules=self.rules, settings=self.settings, now=now))

    async def send(self, leased: Leased[Admitted]) -> Rendered:
        """Render the message and hand it to its channel; the rendered text, for the record."""
        admitted = leased.item
        try:
            rendered = self.templates.render(admitted.kind, admitted.locale, admitted.context)
        except Exception as error:  # a template bug must not block the queue, nor be retried
            # jinja's messages name the template's constructs and the types it met ("access to
            # attribute '__class__' of 'str' object is unsafe"), never a value of the context: the
            # template's author needs them; anything else is its code only
            why = (
                f"{type(error).__name__}: {error}"[:300]
                if isinstance(error, TemplateError)
                else error_code(error)
            )
            raise SendRefused(f"template {admitted.kind} did not render: {why}") from error
        outgoing = Outgoing(
            message_id=admitted.message_id,
            kind=admitted.kind,
            message_class=admitted.message_class,
            customer_id=admitted.customer_id,
            recipient=admitted.recipient,
            locale=rendered.locale,
            rendered=rendered,
            unsubscribe_url=admitted.unsubscribe_url,
            case_id=admitted.context.get("case_id"),
        )
        await self.channels[admitted.channel].send(outgoing)
        return rendered

    async def report(self, leased: Leased[Admitted], outcome: Outcome[Admitted]) -> None:
        """Nothing beyond `failed`'s event: outreach.message.failed.v1 is the report."""

    async def sent(
        self, uow: UnitOfWork[None], rows: Sequence[tuple[Any, Outcome[Admitted]]], now: datetime
    ) -> None:
        """Mark the sent messages in one statement, each with its event in its trace."""
        outcomes = [outcome for _, outcome in rows]
        await uow.session.execute(_MARK_SENT, [_sent_row(outcome, now) for outcome in outcomes])
        for outcome in outcomes:
            with continue_trace("record delivery", *outcome.trace):
                uow.emit(_sent_event(outcome, now))
            admitted = outcome.leased.item
            log.info(
                "message_sent", message_id=admitted.message_id, kind=admitted.kind, channel=admitted.channel
            )

    async def failed(
        self, uow: UnitOfWork[None], row: Any, outcome: Outcome[Admitted], retry_at: datetime | None
    ) -> None:
        """Retried later, or given up (after the last attempt, or a template that cannot render)."""
        message = cast(Message, row)
        if outcome.refused:
            message.attempts -= 1  # its lease counted an attempt, but nothing was sent
        fail(uow, message, str(outcome.error), locale=outcome.leased.item.locale, retry_at=retry_at)


_MESSAGES = cast(Table, Message.__table__)
_MARK_SENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("sent_id"))
    .values(
        status="sent",
        sent_at=bindparam("sent_at_"),
        recipient=bindparam("sent_to"),
        locale=bindparam("sent_locale"),
        subject=bindparam("sent_subject"),
    )
)
"""Marks a message sent, one set of parameters each (`_sent_row`): one statement a batch."""


def _sent_row(outcome: Outcome[Admitted], now: datetime) -> dict[str, Any]:
    admitted, rendered = outcome.leased.item, cast(Rendered, outcome.detail)
    return {
        "sent_id": admitted.message_id,
        "sent_at_": now,
        "sent_to": admitted.recipient if admitted.channel == "email" else None,
        "sent_locale": rendered.locale,
        "sent_subject": rendered.subject,
    }


def _sent_event(outcome: Outcome[Admitted], now: datetime) -> MessageSentV1:
    admitted, rendered = outcome.leased.item, cast(Rendered, outcome.detail)
    return MessageSentV1(
        customer_id=admitted.customer_id,
        message_id=admitted.message_id,
        kind=admitted.kind,
        channel=admitted.channel,
        locale=rendered.locale,
        template=f"{admitted.kind}/{rendered.locale}",
        cause_event_id=admitted.cause_event_id,
        occurred_at=now,
    )
