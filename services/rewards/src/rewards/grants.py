"""Referral rewards against the database: caps, the programme budget, and the grant itself."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, utcnow
from wom_contracts import CaseResolvedV1, Money, ReferralQualifiedV1, RewardGrantedV1

from rewards.domain.balances import POINTS
from rewards.domain.compensation import compensation_withheld_reason
from rewards.domain.earning import expiry_date
from rewards.domain.redemption import coupon_code
from rewards.domain.referral_rewards import BudgetUse, reward_value, withheld_reason
from rewards.ledger import add_entry, amount_fields, balance_of, month_start, withhold
from rewards.models import Coupon, LedgerEntry, Referral
from rewards.rules import ReferralRewardRule, Rules

__all__ = ["grant_compensation", "grant_referral_reward", "referral_budget_used", "referral_withheld_reason"]

REFERRAL_KINDS = ("referral_advocate", "referral_friend")


def _budget_period_start(now: datetime, rules: Rules) -> datetime | None:
    return month_start(now) if rules.referrals.budget.period == "month" else None


async def referral_budget_used(session: AsyncSession, rules: Rules) -> BudgetUse:
    """What referral rewards have used of the programme budget in its current period (rewards
    taken back give their share back)."""
    query = select(
        func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.unit == POINTS), 0),
        func.coalesce(func.sum(LedgerEntry.reporting_value), 0),
    ).where(LedgerEntry.kind.in_(REFERRAL_KINDS), LedgerEntry.status != "revoked")
    start = _budget_period_start(utcnow(), rules)
    if start is not None:
        query = query.where(LedgerEntry.created_at >= start)
    points, credit = (await session.execute(query)).one()
    return BudgetUse(points=int(points or 0), credit=Decimal(credit or 0))


async def referral_withheld_reason(
    session: AsyncSession, side: str, event: ReferralQualifiedV1, rule: ReferralRewardRule, rules: Rules
) -> str | None:
    """Why this side's reward is withheld by the advocate's cap or the budget, or None."""
    cap = rules.referrals.cap_per_advocate
    in_period = 0
    if side == "advocate" and cap is not None:
        in_period = int(
            await session.scalar(
                select(func.count()).where(
                    Referral.advocate_id == event.advocate_customer_id,
                    Referral.advocate_rewarded.is_(True),
                    Referral.referral_id != event.referral_id,
                    Referral.qualified_at > event.occurred_at - timedelta(days=cap.period_days),
                )
            )
            or 0
        )
    return withheld_reason(
        side=side,
        value=reward_value(rule, rules),
        advocate_rewards_in_period=in_period,
        budget_used=await referral_budget_used(session, rules),
        rules=rules,
    )


async def grant_referral_reward(
    uow: UnitOfWork,
    event: ReferralQualifiedV1,
    *,
    side: str,
    customer_id: str,
    rule: ReferralRewardRule,
    rules: Rules,
) -> None:
    """Grant one side's reward, pending until the referral's hold ends."""
    kind = f"referral_{side}"
    code = None
    if rule.points is not None:
        unit, amount, value = POINTS, Decimal(rule.points), None
    elif rule.credit is not None:
        unit, amount = rule.credit.currency, rule.credit.amount
        value = rules.in_reporting_currency(amount, unit)
    else:
        assert rule.coupon is not None  # the rules model guarantees one of the three
        unit, amount = "coupon", rule.coupon.amount
        value = rules.in_reporting_currency(amount, rule.coupon.currency)
        code = coupon_code(os.urandom(8), prefix="REF")
        uow.insert(
            Coupon,
            code=code,
            customer_id=customer_id,
            amount=rule.coupon.amount,
            currency=rule.coupon.currency,
            source="referral",
            valid_from=event.hold_until,
            expires_at=event.hold_until + timedelta(days=rules.redemption.coupon_valid_days),
            created_at=utcnow(),
        )
    entry = add_entry(
        uow,
        customer_id=customer_id,
        kind=kind,
        unit=unit,
        amount=amount,
        status="pending",
        reason=f"{kind}_reward",
        once_key=f"{kind}:{event.referral_id}",
        referral_id=event.referral_id,
        order_id=event.order_id,
        coupon_code=code,
        reporting_value=value,
        hold_until=event.hold_until,
        expires_at=expiry_date(event.occurred_at, rules.earning) if unit == POINTS else None,
    )
    balances = await balance_of(uow.session, customer_id)
    balances.add(unit, "pending", amount)
    uow.emit(
        RewardGrantedV1(
            customer_id=customer_id,
            reward_id=entry["id"],
            kind=kind,
            status="pending",
            reason=entry["reason"],
            source_event_id=uow.event_id,
            referral_id=event.referral_id,
            order_id=event.order_id,
            hold_until=event.hold_until,
            expires_at=entry["expires_at"],
            balance=balances.to_event(),
            occurred_at=entry["created_at"],
            **amount_fields(unit, amount, code),
        )
    )


async def grant_compensation(
    uow: UnitOfWork, event: CaseResolvedV1, compensation: Money, *, once_key: str, rules: Rules
) -> None:
    """Store credit for a resolved case, available at once, if this month's budget allows;
    otherwise the withheld event says why."""
    granted = await uow.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.kind == "compensation",
            LedgerEntry.unit == compensation.currency,
            LedgerEntry.amount > 0,
            LedgerEntry.created_at >= month_start(utcnow()),
        )
    )
    reason = compensation_withheld_reason(
        compensation.amount, compensation.currency, Decimal(granted or 0), rules.compensation
    )
    if reason is not None:
        withhold(
            uow,
            customer_id=event.customer_id,
            kind="compensation",
            reason=reason,
            credit=compensation,
            case_id=event.case_id,
        )
        return
    entry = add_entry(
        uow,
        customer_id=event.customer_id,
        kind="compensation",
        unit=compensation.currency,
        amount=compensation.amount,
        status="available",
        reason="case_compensation",
        once_key=once_key,
        case_id=event.case_id,
        reporting_value=rules.in_reporting_currency(compensation.amount, compensation.currency),
        released_at=utcnow(),
    )
    balances = await balance_of(uow.session, event.customer_id)
    balances.add(compensation.currency, "available", compensation.amount)
    uow.emit(
        RewardGrantedV1(
            customer_id=event.customer_id,
            reward_id=entry["id"],
            kind="compensation",
            status="available",
            credit=compensation,
            reason="case_compensation",
            source_event_id=uow.event_id,
            case_id=event.case_id,
            balance=balances.to_event(),
            occurred_at=entry["created_at"],
        )
    )
