"""Handlers of the feedback service: one function per consumed event."""

from __future__ import annotations

from functools import partial

from wom_chassis import EventHandlers, UnitOfWork, get_logger
from wom_contracts import (
    KEY_CLIENT,
    CustomerErasedV1,
    CustomerRegisteredV1,
    Event,
    PromoterIdentifiedV1,
    ResponseSubmittedV1,
    TierChangedV1,
)

from feedback.batch_view import BatchView, KnownTier, load_batch_view
from feedback.cases import join_case, open_case, raise_for_key_client
from feedback.customers import EmailHasher
from feedback.domain.classification import (
    Lexicon,
    SignalPatterns,
    category,
    is_negative,
    signal_patterns,
    signals_in,
)
from feedback.domain.timeline import TIMELINE_EVENTS, lines_of
from feedback.domain.triage import triage
from feedback.erasure import forget_customer
from feedback.models import CustomerEmail, CustomerTier, Response, TimelineEntry
from feedback.rules import Rules

__all__ = [
    "build_handlers",
    "on_customer_erased",
    "on_response_submitted",
    "on_tier_changed",
]

log = get_logger(__name__)


async def on_response_submitted(
    event: ResponseSubmittedV1, uow: UnitOfWork[BatchView], *, rules: Rules, patterns: SignalPatterns
) -> None:
    """Classify the answer; a negative one opens or joins a remediation case, a promoter without
    an open case is announced (the moment to ask for a referral)."""
    view = uow.view
    if not _take_in(view, event):
        return
    tier = view.tier_of(event.customer_id)
    answer_category = category(event.kind, event.score)
    signals = signals_in(event.comment, patterns)
    case_id = None
    if is_negative(answer_category, signals):
        case_id = _remediate(uow, event, tier, signals, rules)
    elif answer_category == "promoter":
        _announce_promoter(uow, event)
    _record_response(uow, event, answer_category, signals, tier, case_id)


def _take_in(view: BatchView, event: ResponseSubmittedV1) -> bool:
    """Take an answer in, unless it is about an erased customer or was recorded already (then
    False: it is left alone)."""
    if event.customer_id in view.erased:
        log.info("event_for_erased_customer_ignored", response_id=event.response_id)
        return False
    if event.response_id in view.known_responses:
        log.info("response_already_recorded", response_id=event.response_id)
        return False
    view.known_responses.add(event.response_id)
    return True


def _announce_promoter(uow: UnitOfWork[BatchView], event: ResponseSubmittedV1) -> None:
    """Announce a promoter, the moment to ask for a referral; not while a case of theirs is open."""
    if event.customer_id in uow.view.open_cases:
        log.info("promoter_with_open_case_not_announced", response_id=event.response_id)
        return
    uow.emit(
        PromoterIdentifiedV1(
            customer_id=event.customer_id,
            response_id=event.response_id,
            kind=event.kind,
            score=event.score,
            locale=event.locale,
            occurred_at=uow.now,
        )
    )


def _record_response(
    uow: UnitOfWork[BatchView],
    event: ResponseSubmittedV1,
    answer_category: str,
    signals: list[str],
    tier: str | None,
    case_id: str | None,
) -> None:
    # the table, not the class: a Core insert keeps the None columns, so every answer of the
    # batch has one shape and the batch's answers go in one statement
    uow.insert(
        Response.__table__,
        response_id=event.response_id,
        customer_id=event.customer_id,
        order_id=event.order_id,
        kind=event.kind,
        score=event.score,
        comment=event.comment,
        locale=event.locale,
        channel=event.channel,
        submitted_at=event.submitted_at,
        category=answer_category,
        signals=signals,
        tier=tier,
        case_id=case_id,
    )


def _remediate(
    uow: UnitOfWork[BatchView], event: ResponseSubmittedV1, tier: str | None, signals: list[str], rules: Rules
) -> str:
    """Open a case for a negative answer, or join the customer's open case; the case's id."""
    found = triage(
        kind=event.kind,
        score=event.score,
        signals=signals,
        key_client=tier == KEY_CLIENT,
        opened_at=uow.now,
        rules=rules,
    )
    case = uow.view.open_cases.get(event.customer_id)
    if case is None:
        case = uow.view.open_cases[event.customer_id] = open_case(
            uow,
            customer_id=event.customer_id,
            response_id=event.response_id,
            kind=event.kind,
            score=event.score,
            tier=tier,
            triage=found,
            rules=rules,
        )
    else:
        join_case(uow, case, response_id=event.response_id, score=event.score, triage=found)
    return case.case_id


async def on_tier_changed(event: TierChangedV1, uow: UnitOfWork[BatchView], *, rules: Rules) -> None:
    """Learn the customer's tier; a new key client's open case moves up to key-client priority
    (and so do their later answers, which read the tier)."""
    view = uow.view
    if event.customer_id in view.erased:
        return
    record_timeline(uow, event)
    known = view.tiers.get(event.customer_id)
    if known is not None and known.changed_at > event.occurred_at:
        log.info("older_tier_change_ignored")
        return
    view.tiers[event.customer_id] = KnownTier(event.tier, event.occurred_at)
    uow.upsert(
        CustomerTier,
        {"customer_id": event.customer_id, "tier": event.tier, "changed_at": event.occurred_at},
        key=("customer_id",),
    )
    case = view.open_cases.get(event.customer_id)
    if event.tier == KEY_CLIENT and case is not None:
        raise_for_key_client(uow, case, rules)


def record_timeline(uow: UnitOfWork[BatchView], event: Event) -> None:
    """The event's lines in the timelines of the customers it concerns; none for an erased
    customer, and an erased other party of a referral is not named."""
    erased = uow.view.erased
    for line in lines_of(event):
        if line.customer_id in erased:
            continue
        uow.insert(
            TimelineEntry.__table__,
            id=uow.ids.next(),
            customer_id=line.customer_id,
            other_customer_id=None if line.other_customer_id in erased else line.other_customer_id,
            at=line.at,
            kind=line.kind,
            detail=line.detail,
        )


async def on_timeline_event(event: Event, uow: UnitOfWork[BatchView]) -> None:
    """Another service's event that support reads on the customer's page."""
    record_timeline(uow, event)


async def on_customer_registered(
    event: CustomerRegisteredV1, uow: UnitOfWork[BatchView], *, email_hash: EmailHasher
) -> None:
    """A sign-up: its line in the timeline, and the hash of the address the console finds them by."""
    if event.customer_id in uow.view.erased:
        return
    record_timeline(uow, event)
    uow.upsert(
        CustomerEmail,
        {"customer_id": event.customer_id, "email_hash": email_hash(str(event.email))},
        key=("customer_id",),
    )


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork[BatchView]) -> None:
    """Forget the customer: comments and ids gone, scores and cases kept for the counts. It
    updates their rows wherever they are (registered `reads_database`: what the batch buffered
    is written before), and the view forgets them, so the batch's later events about them are
    ignored."""
    await forget_customer(uow.session, event.customer_id)
    uow.view.forget(event.customer_id)
    log.info("customer_erased")


def build_handlers(rules: Rules, lexicon: Lexicon, email_hash: EmailHasher) -> EventHandlers[BatchView]:
    """The feedback handlers, bound to their rules, sharing one view per batch."""
    handlers: EventHandlers[BatchView] = EventHandlers(load_view=load_batch_view)
    handlers.on(ResponseSubmittedV1)(
        # the lexicon compiled once, not for every comment
        partial(on_response_submitted, rules=rules, patterns=signal_patterns(lexicon))
    )
    handlers.on(TierChangedV1)(partial(on_tier_changed, rules=rules))
    handlers.on(CustomerErasedV1, reads_database=True)(on_customer_erased)
    handlers.on(CustomerRegisteredV1)(partial(on_customer_registered, email_hash=email_hash))
    for model in TIMELINE_EVENTS:
        if model not in {TierChangedV1, CustomerRegisteredV1}:  # their handlers above write their lines
            handlers.on(model)(on_timeline_event)
    return handlers
