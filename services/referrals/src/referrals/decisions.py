"""What becomes of a referral: qualified, sent to review, rejected or reversed, each announced."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from wom_chassis import UnitOfWork
from wom_contracts import Money, ReferralQualifiedV1, ReferralRejectedV1, ReferralReversedV1

from referrals.batch_view import BatchView
from referrals.domain.fraud import Assessment, assess
from referrals.domain.qualification import (
    OrderFacts,
    Problem,
    hold_end,
    qualification_problem,
    reversal_reason,
)
from referrals.evidence import evidence_for, order_facts
from referrals.models import Referral
from referrals.programme import Programme
from referrals.view_rows import ReferralRow

__all__ = [
    "ReviewConflict",
    "decide_review",
    "reconsider_after_refund",
    "reject",
    "settle",
    "settle_friend",
]


async def settle_friend(uow: UnitOfWork[BatchView], friend_id: str, programme: Programme) -> None:
    """Decide the friend's standing referral if it is still waiting for its first order."""
    referral = await uow.view.standing_referral(uow, friend_id)
    if referral is not None and referral.status == "attributed":
        await settle(uow, referral, programme)


async def settle(uow: UnitOfWork[BatchView], referral: ReferralRow, programme: Programme) -> None:
    """The friend's first order decides the referral: a qualification rule, then the fraud rules.
    It waits while the friend's registration or first order has not arrived."""
    view = uow.view
    friend = await view.customer(uow, referral.friend_id)
    orders = await view.orders_of(uow, referral.friend_id)
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
    advocate = await view.customer(uow, referral.advocate_id)
    if problem is None and advocate is None:
        problem = Problem("advocate_erased", "the advocate asked to be forgotten")
    _record_order(referral, first)
    if problem is not None:
        reject(uow, referral, problem.reason, problem.detail)
    else:
        assert advocate is not None
        assessment = assess(await evidence_for(uow, referral, advocate, friend, orders), rules.fraud)
        _apply(uow, referral, assessment, first, programme)
    view.referral_decided(referral)
    view.save(uow, referral)


def _apply(
    uow: UnitOfWork[BatchView],
    referral: ReferralRow,
    assessment: Assessment,
    first: OrderFacts,
    programme: Programme,
) -> None:
    referral.risk_score = assessment.score
    referral.signals = [asdict(signal) for signal in assessment.signals]
    details = "; ".join(signal.detail for signal in assessment.signals) or None
    if assessment.decision == "approve":
        _qualify(uow, referral, first, programme)
    elif assessment.decision == "review":
        referral.status = "review"
        referral.reason = assessment.reason
        referral.detail = details
    else:
        reject(uow, referral, assessment.reason or "high_risk_score", details)


def _record_order(referral: ReferralRow, first: OrderFacts) -> None:
    referral.order_id = first.order_id
    referral.order_amount = first.amount
    referral.order_currency = first.currency
    referral.order_completed_at = first.completed_at


def _qualify(
    uow: UnitOfWork[Any],
    referral: Referral | ReferralRow,
    first: OrderFacts,
    programme: Programme,
    decided_by: str | None = None,
) -> None:
    referral.status = "qualified"
    referral.hold_until = hold_end(first, programme.rules.qualification)
    referral.decided_at = uow.now
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


def reject(
    uow: UnitOfWork[Any],
    referral: Referral | ReferralRow,
    reason: str,
    detail: str | None,
    decided_by: str | None = None,
) -> None:
    """Reject the referral with a stable reason code and tell everyone."""
    referral.status = "rejected"
    referral.reason = reason
    referral.detail = detail[:1000] if detail else None
    referral.decided_at = uow.now
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


async def reconsider_after_refund(
    uow: UnitOfWork[BatchView], order_id: str, refunded_at: datetime, programme: Programme
) -> None:
    """A refund of a qualifying order inside the hold that leaves it fully refunded or below the
    minimum reverses a qualified referral, and rejects one still in review."""
    view = uow.view
    referral = await view.referral_decided_by(uow, order_id)
    order = await view.order(uow, order_id)
    if referral is None or order is None:
        return
    reason = reversal_reason(order, programme.rules.qualification)
    if reason is None:
        return
    if referral.status == "review":
        reject(uow, referral, reason, "the order was refunded while the referral was in review")
    else:
        assert referral.hold_until is not None
        if refunded_at > referral.hold_until:
            return  # after the return window a refund changes nothing
        referral.status = "reversed"
        referral.reason = reason
        referral.reversed_at = uow.now
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
    view.save(uow, referral)


class ReviewConflict(Exception):
    """The referral is not (or no longer) waiting in the review queue."""


async def decide_review(
    uow: UnitOfWork[None],
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
