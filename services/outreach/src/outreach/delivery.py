"""Delivery: due messages pass the consent and frequency ledger at send time, are rendered in the
customer's language and handed to their channel, with retries and backoff; every outcome is an
event (sent, failed, suppressed).

The job works in rounds of at most `delivery_round_size` due messages, one per customer:

1. one transaction admits the round (`outreach.admission`): the ledger, the leases;
2. `smtp_connections` workers render the admitted messages and hand them to their channels with
   no transaction open, mail over the service's pool of SMTP connections: a connection that hangs
   holds up its own message only, for at most the SMTP timeout, while the others go on;
3. outcomes are recorded as they come, within `RECORD_WITHIN_SECONDS`, one transaction for
   whatever came meanwhile.

Every transaction is short, so the consume path's batches take the writer lock in between. Each
message is admitted, sent and recorded in the trace of the event that queued it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from wom_chassis import Service, UnitOfWork, get_logger, utcnow
from wom_chassis.mail import MailPool
from wom_chassis.tracing import TraceContext, continue_trace, current_trace_context
from wom_contracts import MessageSentV1

from outreach.admission import Admitted, admit_round, backoff
from outreach.channels import Channel, Outgoing, build_channels
from outreach.messaging import fail
from outreach.models import Message
from outreach.rules import Rules
from outreach.settings import OutreachSettings
from outreach.templates import Rendered, Templates

__all__ = ["RECORD_WITHIN_SECONDS", "Delivery"]

log = get_logger(__name__)
RECORD_WITHIN_SECONDS = 0.01
"""An outcome is recorded this long after it came at most, with all that came meanwhile."""


@dataclass(frozen=True)
class _Outcome:
    """What became of an admitted message: rendered (or not: `rendered` is None) and sent (or
    not: `error`), in which trace."""

    admitted: Admitted
    rendered: Rendered | None
    error: str | None
    trace: TraceContext


@dataclass
class Delivery:
    """Sends due messages; one instance per service, its mail over one pool of SMTP connections."""

    rules: Rules
    settings: OutreachSettings
    templates: Templates

    def __post_init__(self) -> None:
        self.pool = MailPool(self.settings)
        self.channels: dict[str, Channel] = build_channels(self.settings, self.pool)

    async def deliver_due(self, service: Service) -> int:
        """One round of the messages due now (see the module's docstring); how many it took up."""
        async with service.work() as uow:
            taken, admitted = await admit_round(uow, rules=self.rules, settings=self.settings, now=utcnow())
        if admitted:
            await self._send_and_record(service, admitted)
        return taken

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
                    log.error("delivery_loop_error", error=repr(error))
                    tried = 0
                if not tried:
                    await self.close()  # no connection is held open while nothing is due
                    await asyncio.sleep(self.settings.delivery_every_seconds)
        finally:
            await self.close()

    async def _send_and_record(self, service: Service, admitted: list[Admitted]) -> None:
        waiting, came, all_came = deque(admitted), asyncio.Event(), asyncio.Event()
        outcomes: list[_Outcome] = []

        async def worker() -> None:
            while waiting:
                outcomes.append(await self._send(waiting.popleft()))
                came.set()
                if len(outcomes) == len(admitted):
                    all_came.set()

        async def recorder() -> None:
            recorded = 0
            while recorded < len(admitted):
                await came.wait()
                with suppress(TimeoutError):  # a transaction costs more than the rows it writes
                    async with asyncio.timeout(RECORD_WITHIN_SECONDS):
                        await all_came.wait()
                came.clear()
                batch = outcomes[recorded:]  # whatever came meanwhile
                await self._record(service, batch)
                recorded += len(batch)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.settings.smtp_connections, len(admitted))):
                group.create_task(worker())
            group.create_task(recorder())

    async def _send(self, admitted: Admitted) -> _Outcome:
        with continue_trace("deliver message", admitted.traceparent, admitted.tracestate):
            trace = current_trace_context()
            try:
                rendered = self.templates.render(admitted.kind, admitted.locale, admitted.context)
            except Exception as error:  # a template bug must not block the queue
                return _Outcome(admitted, None, f"{type(error).__name__}: {error}", trace)
            outgoing = Outgoing(
                message_id=admitted.message_id,
                kind=admitted.kind,
                message_class=admitted.message_class,
                customer_id=admitted.customer_id,
                recipient=admitted.recipient,
                locale=rendered.locale,
                rendered=rendered,
                unsubscribe_url=admitted.unsubscribe_url,
            )
            try:  # no database transaction is open while the channel answers
                await self.channels[admitted.channel].send(outgoing)
            except Exception as failure:
                return _Outcome(admitted, rendered, f"{type(failure).__name__}: {failure}", trace)
        return _Outcome(admitted, rendered, None, trace)

    async def _record(self, service: Service, outcomes: Sequence[_Outcome]) -> None:
        """Each outcome once, with its event, in one transaction: the sent in one statement, the
        others by the rules of `fail`: retried later, or given up after the last attempt or when
        the template cannot be rendered."""
        async with service.work() as uow:
            session = uow.session
            ids = [outcome.admitted.message_id for outcome in outcomes]
            present = set(await session.scalars(select(Message.id).where(Message.id.in_(ids))))
            outcomes = [outcome for outcome in outcomes if outcome.admitted.message_id in present]
            sent = [outcome for outcome in outcomes if outcome.error is None]
            failed = {o.admitted.message_id: o for o in outcomes if o.error is not None}
            now = utcnow()
            if sent:
                await session.execute(_MARK_SENT, [_sent_row(outcome, now) for outcome in sent])
            for outcome in sent:
                with continue_trace("record delivery", *outcome.trace):
                    uow.emit(_sent_event(outcome, now))
            if failed:
                for message in await session.scalars(select(Message).where(Message.id.in_(failed))):
                    self._failed(uow, message, failed[message.id], now)
        for outcome in sent:  # a message erased meanwhile is neither recorded nor logged
            admitted = outcome.admitted
            log.info(
                "message_sent", message_id=admitted.message_id, kind=admitted.kind, channel=admitted.channel
            )

    def _failed(self, uow: UnitOfWork[None], message: Message, outcome: _Outcome, now: datetime) -> None:
        if outcome.rendered is None:
            message.attempts -= 1  # its lease counted an attempt, but nothing was sent
            last = True
        else:
            last = message.attempts >= self.settings.delivery_max_attempts
        with continue_trace("record delivery", *outcome.trace):
            fail(
                uow,
                message,
                str(outcome.error),
                locale=outcome.admitted.locale,
                retry_at=None if last else now + backoff(self.settings, message.attempts),
            )


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


def _sent_row(outcome: _Outcome, now: datetime) -> dict[str, Any]:
    admitted, rendered = outcome.admitted, outcome.rendered
    assert rendered is not None
    return {
        "sent_id": admitted.message_id,
        "sent_at_": now,
        "sent_to": admitted.recipient if admitted.channel == "email" else None,
        "sent_locale": rendered.locale,
        "sent_subject": rendered.subject,
    }


def _sent_event(outcome: _Outcome, now: datetime) -> MessageSentV1:
    admitted, rendered = outcome.admitted, outcome.rendered
    assert rendered is not None
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
