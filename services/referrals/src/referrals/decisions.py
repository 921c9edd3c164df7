"""What becomes of a referral: qualified, sent to review, rejected or reversed, each announced."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from wom_chassis import UnitOfWork, get_logger, utcnow
from wom_contracts import Money, ReferralQualifiedV1, ReferralRejectedV1, ReferralReversedV1

from referrals.batch_view import BatchView
from referrals.domain.fraud import assess
from referrals.domain.qualification import (
    OrderFacts,
    Problem,
    hold_end,
    qualification_problem,
    reversal_reason,
)
from referrals.evidence import evidence_for, order_facts, orders_of
from referrals.models import Referral
from referrals.programme import Programme

__all__ = [
    "ReviewConflict",
    "decide_review",
    "reconsider_after_refund",
    "reject",
    "settle",
    "settle_friend",
]

log = get_logger(__name__)


async def settle_friend(uow: UnitOfWork, view: BatchView, friend_id: str, programme: Programme) -> None:
    """Decide the friend's standing referral if it is still waiting for its first order."""
    referral = await view.standing_referral(uow.session, friend_id)
    if referral is not None and referral.status == "attributed":
        await settle(uow, view, referral, programme)


async def settle(uow: UnitOfWork, view: BatchView, referral: Referral, programme: Programme) -> None:
    """The friend's first order decides the referral: a qualification rule, then the fraud rules.
    It waits while the friend's registration or first order has not arrived."""
    session = uow.session
    friend = await view.customer(session, referral.friend_id)
    orders = await orders_of(session, referral.friend_id)
    if friend is None or not orders:
        return
    first = orders[0]
    rules = programme.rules
    problem = qualification_problem(
        first,
        attributed_at=referral.attributed_at,
        attributing_order_id=referral.attributing_order_id,
        attribution=rules.attribution,
        qualification=rules.qualification,
    )
    advocate = await view.customer(session, referral.advocate_id)
    if problem is None and advocate is None:
        problem = Problem("advocate_erased", "the advocate asked to be forgotten")
    evidence = None
    if problem is None:
        assert advocate is not None
        evidence = await evidence_for(session, referral, advocate, friend, orders)
    # recorded after the reads: the referral's row is then written once, with its decision
    _record_order(referral, first)
    if problem is not None:
        reject(uow, referral, problem.reason, problem.detail)
        return
    assert evidence is not None
    assessment = assess(evidence, rules.fraud)
    referral.risk_score = assessment.score
    referral.signals = [asdict(signal) for signal in assessment.signals]
    details = "; ".join(signal.detail for signal in assessment.signals) or None
    if assessment.decision == "approve":
        _qualify(uow, referral, first, programme)
    elif assessment.decision == "review":
        referral.status = "review"
        referral.reason = assessment.reason
        referral.detail = details
        log.info("referral_sent_to_review", referral_id=referral.referral_id, reason=assessment.reason)
    else:
        reject(uow, referral, assessment.reason or "high_risk_score", details)


def _record_order(referral: Referral, first: OrderFacts) -> None:
    referral.order_id = first.order_id
    referral.order_amount = first.amount
    referral.order_currency = first.currency
    referral.order_completed_at = first.completed_at


def _qualify(
    uow: UnitOfWork,
    referral: Referral,
    first: OrderFacts,
    programme: Programme,
    decided_by: str | None = None,
) -> None:
    referral.status = "qualified"
    referral.hold_until = hold_end(first, programme.rules.qualification)
    referral.decided_at = utcnow()
    referral.decided_by = decided_by
    uow.emit(
        ReferralQualifiedV1(
            customer_id=referral.friend_id,
            referral_id=referral.referral_id,
            advocate_customer_id=referral.advocate_id,
            order_id=first.order_id,
            order_total=Money(amount=first.amount, currency=first.currency),
            hold_until=referral.hold_until,
            occurred_at=referral.decided_at,
            risk_score=referral.risk_score,
            decided_by=decided_by,
        )
    )
    log.info("referral_qualified", referral_id=referral.referral_id, hold_until=str(referral.hold_until))


def reject(
    uow: UnitOfWork, referral: Referral, reason: str, detail: str | None, decided_by: str | None = None
) -> None:
    """Reject the referral with a stable reason code and tell everyone."""
    referral.status = "rejected"
    referral.reason = reason
    referral.detail = detail[:1000] if detail else None
    referral.decided_at = utcnow()
    referral.decided_by = decided_by
    uow.emit(
        ReferralRejectedV1(
            customer_id=referral.friend_id,
            referral_id=referral.referral_id,
            advocate_customer_id=referral.advocate_id,
            reason=reason,
            detail=referral.detail,
            occurred_at=referral.decided_at,
            risk_score=referral.risk_score,
            decided_by=decided_by,
        )
    )
    log.info("referral_rejected", referral_id=referral.referral_id, reason=reason)


async def reconsider_after_refund(
    uow: UnitOfWork, order_id: str, refunded_at: datetime, programme: Programme
) -> None:
    """A refund of a qualifying order inside the hold that leaves it fully refunded or below the
    minimum reverses a qualified referral, and rejects one still in review."""
    session = uow.session
    referral = await session.scalar(
        select(Referral).where(Referral.order_id == order_id, Referral.status.in_(("qualified", "review")))
    )
    order = await order_facts(session, order_id)
    if referral is None or order is None:
        return
    reason = reversal_reason(order, programme.rules.qualification)
    if reason is None:
        return
    if referral.status == "review":
        reject(uow, referral, reason, "the order was refunded while the referral was in review")
        return
    assert referral.hold_until is not None
    if refunded_at > referral.hold_until:
        log.info("refund_after_hold_kept_referral", referral_id=referral.referral_id)
        return
    referral.status = "reversed"
    referral.reason = reason
    referral.reversed_at = utcnow()
    uow.emit(
        ReferralReversedV1(
            customer_id=referral.friend_id,
            referral_id=referral.referral_id,
            advocate_customer_id=referral.advocate_id,
            order_id=order_id,
            reason=reason,
            occurred_at=referral.reversed_at,
        )
    )
    log.info("referral_reversed", referral_id=referral.referral_id, reason=reason)


class ReviewConflict(Exception):
    """The referral is not (or no longer) waiting in the review queue."""


async def decide_review(
    uow: UnitOfWork,
    referral_id: str,
    *,
    approve: bool,
    reviewer: str,
    note: str | None,
    programme: Programme,
) -> Referral | None:
    """An operator's decision on a referral in review: approved referrals qualify (the hold runs
    from the order as usual), rejected ones get `rejected_in_review`; None when there is no such
    referral."""
    referral = await uow.session.get(Referral, referral_id, with_for_update=True)
    if referral is None:
        return None
    if referral.status != "review":
        raise ReviewConflict(f"referral {referral_id} is {referral.status}, not in review")
    referral.note = note
    if approve:
        assert referral.order_id is not None
        first = await order_facts(uow.session, referral.order_id)
        assert first is not None
        _qualify(uow, referral, first, programme, decided_by=reviewer)
    else:
        reject(uow, referral, "rejected_in_review", note, decided_by=reviewer)
    return referral
