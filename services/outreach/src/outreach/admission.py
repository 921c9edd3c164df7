"""Admission at send time, a round of due messages at once: the consent and frequency ledger
read in a few queries for the whole round, then each message suppressed, left waiting (quiet
hours, a contact not yet registered), or given its template variables and admitted for its
channel; the delivery engine (`wom_chassis.delivery`) leases it while it is rendered and sent,
both outside the transaction (rendering is the dearest step of a mail and needs no database)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, get_logger
from wom_chassis.l10n import locale_within
from wom_chassis.tracing import continue_trace

from outreach.domain.policies import Situation, admit
from outreach.domain.wording import language_of, reward_phrase
from outreach.kinds import MessageClass, kind_of
from outreach.messaging import suppress
from outreach.models import Contact, Message
from outreach.rules import Rules
from outreach.settings import OutreachSettings
from outreach.templates import locale_chain
from outreach.unsubscribe import unsubscribe_url

__all__ = ["Admitted", "admit_messages", "context_for", "first_of_each_customer"]

log = get_logger(__name__)
SURVEY_KINDS = ("check_in",)


@dataclass(frozen=True)
class Admitted:
    """A message admitted: what rendering it, sending it and recording its outcome need once its
    transaction is closed."""

    message_id: str
    kind: str
    message_class: MessageClass
    channel: str
    customer_id: str
    cause_event_id: str
    recipient: str
    locale: str
    """the contact's, to render in (the template may fall back along the locale chain)"""
    context: dict[str, Any]
    """the template variables (`context_for`)"""
    unsubscribe_url: str | None
    traceparent: str | None
    tracestate: str | None


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
            locale=locale_within(contact.locale, language),
        )
    if message.kind == "key_client_welcome":
        offers = rules.key_client_offer
        context["offer"] = next(
            (offers[tag] for tag in locale_chain(contact.locale or "en") if tag in offers), offers["en"]
        )
    return context


@dataclass
class _Ledger:
    """What the round's messages need of their customers' history: the marketing sent within the
    cap's window, the last survey, the last referral ask."""

    marketing_sent: dict[str, list[datetime]]
    last_survey_at: dict[str, datetime]
    last_referral_ask_at: dict[str, datetime]


async def admit_messages(
    uow: UnitOfWork[None], due: Sequence[Message], *, rules: Rules, settings: OutreachSettings, now: datetime
) -> list[tuple[Message, Admitted]]:
    """Admit due messages (`first_of_each_customer`): the messages to send, each with what
    sending it needs. The others are suppressed or left waiting here; the delivery engine leases
    the admitted."""
    session = uow.session
    messages = list(due)
    customers = {m.customer_id for m in messages}
    contacts = {
        c.customer_id: c
        for c in await session.scalars(select(Contact).where(Contact.customer_id.in_(customers)))
    }
    ledger = await _read_ledger(session, messages, now, rules)
    admitted = []
    for message in messages:
        with continue_trace("admit message", message.traceparent, message.tracestate):
            ready = _admit(uow, message, contacts.get(message.customer_id), ledger, now, rules, settings)
        if ready is not None:
            admitted.append((message, ready))
    return admitted


def first_of_each_customer(due: Sequence[Message]) -> list[Message]:
    """The earliest of each customer's due messages: the next must see its outcome through the
    ledger, in a later round."""
    first: dict[str, Message] = {}
    for message in due:
        first.setdefault(message.customer_id, message)
    return list(first.values())


async def _read_ledger(
    session: AsyncSession, messages: Sequence[Message], now: datetime, rules: Rules
) -> _Ledger:
    """The customers' history that `admit` reads, only for the messages whose rules read it."""
    marketing = {m.customer_id for m in messages if m.message_class == "marketing"}
    surveys = {m.customer_id for m in messages if kind_of(m.kind).survey}
    asks = {m.customer_id for m in messages if m.kind == "referral_ask"}
    ledger = _Ledger({}, {}, {})
    if marketing:
        since = now - timedelta(days=rules.frequency_cap.days)
        rows = await session.execute(
            select(Message.customer_id, Message.sent_at).where(
                Message.customer_id.in_(marketing),
                Message.status == "sent",
                Message.message_class == "marketing",
                Message.sent_at > since,
            )
        )
        for customer_id, sent_at in rows:
            if sent_at is not None:
                ledger.marketing_sent.setdefault(customer_id, []).append(sent_at)
    ledger.last_survey_at = await _last_sent(session, surveys, SURVEY_KINDS)
    ledger.last_referral_ask_at = await _last_sent(session, asks, ("referral_ask",))
    return ledger


async def _last_sent(
    session: AsyncSession, customers: Iterable[str], kinds: tuple[str, ...]
) -> dict[str, Any]:
    """When each of `customers` was last sent a message of `kinds`."""
    customers = set(customers)
    if not customers:
        return {}
    rows = await session.execute(
        select(Message.customer_id, func.max(Message.sent_at))
        .where(Message.customer_id.in_(customers), Message.status == "sent", Message.kind.in_(kinds))
        .group_by(Message.customer_id)
    )
    return {customer_id: last for customer_id, last in rows if last is not None}


def _admit(
    uow: UnitOfWork[None],
    message: Message,
    contact: Contact | None,
    ledger: _Ledger,
    now: datetime,
    rules: Rules,
    settings: OutreachSettings,
) -> Admitted | None:
    """Apply the ledger to one message: suppress it, let it wait, or admit it for sending."""
    if contact is None or contact.email is None:
        message.status = "waiting"  # released when the registration arrives
        return None
    if message.due_at and now - message.due_at > timedelta(hours=rules.stale_after_hours):
        suppress(uow, message, "stale")
        return None
    customer = contact.customer_id
    admission = admit(
        Situation(
            now=now,
            message_class=message.message_class,
            marketing_consent=contact.marketing_consent,
            timezone=contact.timezone,
            marketing_sent=ledger.marketing_sent.get(customer, []),
            survey=kind_of(message.kind).survey,
            last_survey_at=ledger.last_survey_at.get(customer),
            referral_ask=message.kind == "referral_ask",
            open_case=contact.open_case_id is not None,
            last_referral_ask_at=ledger.last_referral_ask_at.get(customer),
            has_share_link=contact.share_url is not None,
        ),
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
        log.info("message_waits_for_quiet_hours_to_end", message_id=message.id, until=str(admission.until))
        return None
    context = context_for(message, contact, rules, settings)
    marketing = message.message_class == "marketing"
    return Admitted(
        message_id=message.id,
        kind=message.kind,
        message_class=message.message_class,  # type: ignore[arg-type]
        channel=message.channel,
        customer_id=message.customer_id,
        cause_event_id=message.cause_event_id,
        recipient=contact.email,
        locale=contact.locale or "en",
        context=context,
        unsubscribe_url=unsubscribe_url(settings, contact.customer_id) if marketing else None,
        traceparent=message.traceparent,
        tracestate=message.tracestate,
    )
