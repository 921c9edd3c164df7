"""Delivery: due messages pass the consent and frequency ledger at send time, are rendered in the
customer's language and handed to their channel, with retries and backoff; every outcome is an
event (sent, failed, suppressed)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from wom_chassis import Service, UnitOfWork, get_logger, utcnow
from wom_chassis.mail import MailPool
from wom_chassis.tracing import continue_trace
from wom_contracts import MessageFailedV1, MessageSentV1

from outreach.channels import Channel, Outgoing, build_channels
from outreach.domain.policies import Admission, Situation, admit
from outreach.domain.wording import language_of, reward_phrase
from outreach.kinds import kind_of
from outreach.messaging import suppress
from outreach.models import Contact, Message
from outreach.rules import Rules
from outreach.settings import OutreachSettings
from outreach.templates import Rendered, Templates, locale_chain
from outreach.unsubscribe import unsubscribe_url

__all__ = ["Delivery", "context_for"]

log = get_logger(__name__)
SURVEY_KINDS = ("check_in",)


def context_for(
    message: Message, contact: Contact, rules: Rules, settings: OutreachSettings
) -> dict[str, Any]:
    """The template variables of a message: what every template gets, then the kind's own."""
    marketing = message.message_class == "marketing"
    context: dict[str, Any] = {
        "first_name": contact.first_name,
        "shop_name": rules.shop_name,
        "shop_url": str(rules.shop_url),
        "points_available": contact.points_available,
        "points_pending": contact.points_pending,
        "tier": contact.tier,
        "share_url": contact.share_url,
        "code": contact.referral_code,
        "unsubscribe_url": unsubscribe_url(settings, contact.customer_id) if marketing else None,
        **message.data,
    }
    if message.kind == "welcome":
        context["show_share_link"] = bool(contact.marketing_consent and contact.share_url)
    if message.kind in ("referral_success", "referral_welcome_reward"):
        language = language_of(locale_chain(contact.locale or "en"))
        context["reward"] = reward_phrase(
            language,
            points=message.data.get("points"),
            credit=message.data.get("credit"),
            coupon_code=message.data.get("coupon_code"),
        )
    if message.kind == "key_client_welcome":
        offers = rules.key_client_offer
        context["offer"] = next(
            (offers[tag] for tag in locale_chain(contact.locale or "en") if tag in offers), offers["en"]
        )
    return context


@dataclass
class Delivery:
    """Sends due messages; one instance per service, its mail over one pool of SMTP connections."""

    rules: Rules
    settings: OutreachSettings
    templates: Templates

    def __post_init__(self) -> None:
        self.pool = MailPool(self.settings)
        self.channels: dict[str, Channel] = build_channels(self.settings, self.pool)

    async def deliver_due(self, service: Service, limit: int = 50) -> int:
        """Try every message that is due now, each in the trace of the event that queued it; how
        many were tried."""
        async with service.db.session() as session:
            due = (
                await session.execute(
                    select(Message.id, Message.traceparent, Message.tracestate)
                    .where(Message.status == "queued", Message.next_attempt_at <= utcnow())
                    .order_by(Message.next_attempt_at, Message.created_at)
                    .limit(limit)
                )
            ).all()
        for message_id, traceparent, tracestate in due:
            with continue_trace("deliver message", traceparent, tracestate):
                await self._deliver_one(service, message_id)
        return len(due)

    async def close(self) -> None:
        """Say goodbye on the idle SMTP connections (the next run opens new ones)."""
        await self.pool.close()

    async def _situation(self, uow: UnitOfWork, message: Message, contact: Contact) -> Situation:
        """What `admit` needs; it reads the marketing sent, the last survey and the last referral
        ask only for the messages they concern, so only those look them up."""
        session, now = uow.session, utcnow()
        mine = (Message.customer_id == contact.customer_id, Message.status == "sent")
        marketing = message.message_class == "marketing"
        survey = kind_of(message.kind).survey
        referral_ask = message.kind == "referral_ask"
        marketing_sent: Sequence[Any] = ()
        if marketing:
            marketing_sent = (
                await session.scalars(
                    select(Message.sent_at).where(
                        *mine,
                        Message.message_class == "marketing",
                        Message.sent_at > now - timedelta(days=self.rules.frequency_cap.days),
                    )
                )
            ).all()

        async def last_sent(kinds: tuple[str, ...]) -> Any:
            return await session.scalar(
                select(func.max(Message.sent_at)).where(*mine, Message.kind.in_(kinds))
            )

        return Situation(
            now=now,
            message_class=message.message_class,
            marketing_consent=contact.marketing_consent,
            timezone=contact.timezone,
            marketing_sent=[moment for moment in marketing_sent if moment is not None],
            survey=survey,
            last_survey_at=await last_sent(SURVEY_KINDS) if survey else None,
            referral_ask=referral_ask,
            open_case=contact.open_case_id is not None,
            last_referral_ask_at=await last_sent(("referral_ask",)) if referral_ask else None,
            has_share_link=contact.share_url is not None,
        )

    async def _admit(self, service: Service, message_id: str) -> tuple[Message, Contact, Rendered] | None:
        """Apply the ledger in one short transaction: suppress, wait, or hand back what to send."""
        async with service.work() as uow:
            message = await uow.session.get(Message, message_id, with_for_update=True)
            if message is None or message.status != "queued" or message.next_attempt_at > utcnow():
                return None
            contact = await uow.session.get(Contact, message.customer_id)
            if contact is None or contact.email is None:
                message.status = "waiting"  # released when the registration arrives
                return None
            rules = self.rules
            if message.due_at and utcnow() - message.due_at > timedelta(hours=rules.stale_after_hours):
                suppress(uow, message, "stale")
                return None
            admission: Admission = admit(
                await self._situation(uow, message, contact),
                cap=rules.frequency_cap,
                quiet=rules.quiet_hours,
                survey_suppression_days=rules.survey_suppression_days,
                referral_ask_every_days=rules.referral_ask_every_days,
            )
            if admission.action == "suppress":
                suppress(uow, message, admission.reason or "suppressed")
                return None
            if admission.action == "wait":
                assert admission.until is not None
                message.next_attempt_at = admission.until
                log.info(
                    "message_waits_for_quiet_hours_to_end", message_id=message.id, until=str(admission.until)
                )
                return None
            context = context_for(message, contact, rules, self.settings)
            try:
                rendered = self.templates.render(message.kind, contact.locale or "en", context)
            except Exception as error:  # a template bug must not block the queue
                self._failed(uow, message, contact, f"{type(error).__name__}: {error}", final=True)
                return None
            message.attempts += 1
            message.next_attempt_at = utcnow() + self._backoff(message.attempts)  # a lease while sending
            return message, contact, rendered

    async def _deliver_one(self, service: Service, message_id: str) -> None:
        admitted = await self._admit(service, message_id)
        if admitted is None:
            return
        message, contact, rendered = admitted
        outgoing = Outgoing(
            message_id=message.id,
            kind=message.kind,
            message_class=message.message_class,  # type: ignore[arg-type]
            customer_id=message.customer_id,
            recipient=contact.email,
            locale=rendered.locale,
            rendered=rendered,
            unsubscribe_url=(
                unsubscribe_url(self.settings, contact.customer_id)
                if message.message_class == "marketing"
                else None
            ),
        )
        error: Exception | None = None
        try:  # no database transaction is open while the channel answers
            await self.channels[message.channel].send(outgoing)
        except Exception as failure:
            error = failure
        async with service.work() as uow:
            current = await uow.session.get(Message, message_id)
            if current is None:
                return  # erased meanwhile
            if error is not None:
                final = current.attempts >= self.settings.delivery_max_attempts
                self._failed(uow, current, contact, f"{type(error).__name__}: {error}", final=final)
                return
            current.status, current.sent_at = "sent", utcnow()
            current.recipient = contact.email if current.channel == "email" else None
            current.locale, current.subject = rendered.locale, rendered.subject
            uow.emit(
                MessageSentV1(
                    customer_id=current.customer_id,
                    message_id=current.id,
                    kind=current.kind,
                    channel=current.channel,
                    locale=rendered.locale,
                    template=f"{current.kind}/{rendered.locale}",
                    cause_event_id=current.cause_event_id,
                    occurred_at=current.sent_at,
                )
            )
        log.info("message_sent", message_id=message_id, kind=message.kind, channel=message.channel)

    def _backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.settings.delivery_retry_seconds * 2 ** max(attempts - 1, 0))

    def _failed(
        self, uow: UnitOfWork, message: Message, contact: Contact, error: str, *, final: bool
    ) -> None:
        message.last_error = error[:2000]
        if not final:
            message.next_attempt_at = utcnow() + self._backoff(message.attempts)
            log.warning("message_retry_later", message_id=message.id, error=message.last_error)
            return
        message.status = "failed"
        uow.emit(
            MessageFailedV1(
                customer_id=message.customer_id,
                message_id=message.id,
                kind=message.kind,
                channel=message.channel,
                locale=contact.locale,
                cause_event_id=message.cause_event_id,
                error=message.last_error,
                attempts=message.attempts,
                occurred_at=utcnow(),
            )
        )
        log.error("message_failed", message_id=message.id, error=message.last_error)

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
                    await asyncio.sleep(self.settings.delivery_interval_seconds)
        finally:
            await self.close()
