"""Handlers of the feedback service: one function per consumed event."""

from __future__ import annotations

from functools import partial

from sqlalchemy import select
from wom_chassis import EventHandlers, UnitOfWork, get_logger, utcnow
from wom_contracts import CustomerErasedV1, PromoterIdentifiedV1, ResponseSubmittedV1, TierChangedV1

from feedback.cases import open_or_join, raise_for_key_client
from feedback.domain.classification import Lexicon, category, is_negative, negative_signals
from feedback.domain.triage import triage
from feedback.erasure import forget_customer, is_erased
from feedback.models import Case, CustomerTier, Response
from feedback.rules import Rules

__all__ = [
    "KEY_CLIENT",
    "build_handlers",
    "on_customer_erased",
    "on_response_submitted",
    "on_tier_changed",
]

KEY_CLIENT = "key_client"
log = get_logger(__name__)


async def on_response_submitted(
    event: ResponseSubmittedV1, uow: UnitOfWork, *, rules: Rules, lexicon: Lexicon
) -> None:
    """Classify the answer; a negative one opens or joins a remediation case, a promoter without
    an open case is announced (the moment to ask for a referral)."""
    session = uow.session
    if await is_erased(session, event.customer_id):
        log.info("event_for_erased_customer_ignored", response_id=event.response_id)
        return
    if await session.get(Response, event.response_id) is not None:
        log.info("response_already_recorded", response_id=event.response_id)
        return
    tier = await session.scalar(
        select(CustomerTier.tier).where(CustomerTier.customer_id == event.customer_id)
    )
    answer = Response(
        response_id=event.response_id,
        customer_id=event.customer_id,
        order_id=event.order_id,
        kind=event.kind,
        score=event.score,
        comment=event.comment,
        locale=event.locale,
        channel=event.channel,
        submitted_at=event.submitted_at,
        category=category(event.kind, event.score),
        signals=negative_signals(event.comment, lexicon),
        tier=tier,
    )
    session.add(answer)
    assert answer.category is not None and answer.signals is not None
    if is_negative(answer.category, answer.signals):
        found = triage(
            kind=event.kind,
            score=event.score,
            signals=answer.signals,
            key_client=tier == KEY_CLIENT,
            opened_at=utcnow(),
            rules=rules,
        )
        await open_or_join(uow, answer, found, rules)
        return
    if answer.category == "promoter":
        if await session.scalar(select(Case.case_id).where(Case.open_for == event.customer_id)):
            log.info("promoter_with_open_case_not_announced", response_id=event.response_id)
            return
        uow.emit(
            PromoterIdentifiedV1(
                customer_id=event.customer_id,
                response_id=event.response_id,
                kind=event.kind,
                score=event.score,
                locale=event.locale,
                occurred_at=utcnow(),
            )
        )


async def on_tier_changed(event: TierChangedV1, uow: UnitOfWork, *, rules: Rules) -> None:
    """Learn the customer's tier; a new key client's open case moves up to key-client priority."""
    session = uow.session
    if await is_erased(session, event.customer_id):
        return
    known = await session.get(CustomerTier, event.customer_id)
    if known is not None and known.changed_at > event.occurred_at:
        log.info("older_tier_change_ignored")
        return
    if known is None:
        session.add(
            CustomerTier(customer_id=event.customer_id, tier=event.tier, changed_at=event.occurred_at)
        )
    else:
        known.tier, known.changed_at = event.tier, event.occurred_at
    if event.tier == KEY_CLIENT:
        await raise_for_key_client(uow, event.customer_id, rules)


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork) -> None:
    """Forget the customer: comments and ids gone, scores and cases kept for the counts."""
    await forget_customer(uow.session, event.customer_id)
    log.info("customer_erased")


def build_handlers(rules: Rules, lexicon: Lexicon) -> EventHandlers:
    """The feedback handlers, bound to their rules."""
    handlers = EventHandlers()
    handlers.on(ResponseSubmittedV1)(partial(on_response_submitted, rules=rules, lexicon=lexicon))
    handlers.on(TierChangedV1)(partial(on_tier_changed, rules=rules))
    handlers.on(CustomerErasedV1)(on_customer_erased)
    return handlers
