"""Referral rewards and compensation against the database: referrals as rewards learnt them, the
advocate cap and the budgets (read once for a batch, kept current as it grants), the grants."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork
from wom_chassis.driver import fetch
from wom_contracts import (
    COMPENSATION,
    REFERRAL_ADVOCATE,
    REFERRAL_KINDS,
    CaseResolvedV1,
    Money,
    ReferralQualifiedV1,
    RewardGrantedV1,
)

from rewards.domain.balances import POINTS, Balances
from rewards.domain.compensation import compensation_withheld_reason
from rewards.domain.earning import expiry_date
from rewards.domain.redemption import coupon_code
from rewards.domain.referral_rewards import BudgetUse, reward_value, withheld_reason
from rewards.ledger import Grant, add_entry, amount_fields, month_start, withhold
from rewards.models import Coupon, LedgerEntry, Referral, WithheldReward
from rewards.rules import ReferralRewardRule, Rules

__all__ = [
    "CompensationBudget",
    "ReferralLimits",
    "StoredReferral",
    "compensation_budget",
    "grant_compensation",
    "grant_referral_reward",
    "referral_limits",
    "stored_referrals",
]


@dataclass(slots=True)
class StoredReferral:
    """A row of `referrals`: a referral as rewards learnt it, qualified or reversed."""

    referral_id: str
    advocate_id: str
    friend_id: str
    order_id: str | None
    status: str
    advocate_rewarded: bool = False
    hold_until: datetime | None = None
    qualified_at: datetime | None = None
    reversed_at: datetime | None = None
    reversal_reason: str | None = None

    def row(self) -> dict[str, Any]:
        """The row as the table takes it."""
        return {name: getattr(self, name) for name in _REFERRAL_FIELDS}


_REFERRAL_FIELDS = tuple(StoredReferral.__dataclass_fields__)

# built once: a batch's values are bound at execution rather than compiled into each statement
_REFERRALS = select(*(getattr(Referral, name) for name in _REFERRAL_FIELDS)).where(
    Referral.referral_id.in_(bindparam("ids", expanding=True))
)
_REWARDED = select(Referral.advocate_id, Referral.referral_id, Referral.qualified_at).where(
    Referral.advocate_id.in_(bindparam("ids", expanding=True)),
    Referral.advocate_rewarded.is_(True),
    Referral.qualified_at > bindparam("since", type_=Referral.qualified_at.type),
)
_BUDGET_USED = select(
    func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.unit == POINTS), 0),
    func.coalesce(func.sum(LedgerEntry.reporting_value), 0),
).where(LedgerEntry.kind.in_(REFERRAL_KINDS), LedgerEntry.status != "revoked")
_BUDGET_USED_SINCE = _BUDGET_USED.where(
    LedgerEntry.created_at >= bindparam("since", type_=LedgerEntry.created_at.type)
)
_SETTLED = union_all(
    select(LedgerEntry.once_key).where(LedgerEntry.once_key.in_(bindparam("keys", expanding=True))),
    select(WithheldReward.once_key).where(WithheldReward.once_key.in_(bindparam("keys", expanding=True))),
)
_COMPENSATED = (
    select(LedgerEntry.unit, func.sum(LedgerEntry.amount))
    .where(
        LedgerEntry.kind == COMPENSATION,
        LedgerEntry.unit.in_(bindparam("units", expanding=True)),
        LedgerEntry.amount > 0,
        LedgerEntry.created_at >= bindparam("since", type_=LedgerEntry.created_at.type),
    )
    .group_by(LedgerEntry.unit)
)


async def stored_referrals(session: AsyncSession, referral_ids: Collection[str]) -> dict[str, StoredReferral]:
    """The referrals among `referral_ids` that rewards knows, by id."""
    if not referral_ids:
        return {}
    rows = await fetch(session, _REFERRALS, {"ids": list(referral_ids)})
    return {row[0]: StoredReferral(*row) for row in rows}


@dataclass
class ReferralLimits:
    """What the advocate cap and the programme budget count: read once for a batch of
    qualifications, kept current as the batch grants and revokes."""

    rewarded: dict[str, list[tuple[str, datetime]]]  # advocate → (referral, qualified at) rewarded
    budget: BudgetUse  # used in the current period
    period_start: datetime | None  # None: the budget never renews

    def withheld_reason(
        self, side: str, event: ReferralQualifiedV1, rule: ReferralRewardRule, rules: Rules
    ) -> str | None:
        """Why this side's reward is withheld by the advocate's cap or the budget, or None."""
        cap = rules.referrals.cap_per_advocate
        in_period = 0
        if side == "advocate" and cap is not None:
            since = event.occurred_at - timedelta(days=cap.period_days)
            in_period = sum(
                1
                for referral_id, qualified_at in self.rewarded.get(event.advocate_customer_id, [])
                if referral_id != event.referral_id and qualified_at > since
            )
        return withheld_reason(
            side=side,
            value=reward_value(rule, rules),
            advocate_rewards_in_period=in_period,
            budget_used=self.budget,
            rules=rules,
        )

    def granted(self, grant: Grant, event: ReferralQualifiedV1) -> None:
        """Count a reward just granted."""
        self._count(grant, +1)
        if grant.kind == REFERRAL_ADVOCATE:
            self.rewarded.setdefault(event.advocate_customer_id, []).append(
                (event.referral_id, event.occurred_at)
            )

    def revoked(self, grant: Grant) -> None:
        """Give the budget back a pending reward that was just revoked."""
        if grant.kind in REFERRAL_KINDS and (
            self.period_start is None or grant.created_at >= self.period_start
        ):
            self._count(grant, -1)

    def _count(self, grant: Grant, sign: int) -> None:
        points = int(grant.amount) if grant.unit == POINTS else 0
        credit = grant.reporting_value or Decimal(0)
        self.budget = BudgetUse(self.budget.points + sign * points, self.budget.credit + sign * credit)


async def referral_limits(
    session: AsyncSession, qualifications: Collection[ReferralQualifiedV1], now: datetime, rules: Rules
) -> ReferralLimits:
    """What the cap and the budget count for `qualifications`: the advocates' rewarded
    referrals inside the cap's period, and what the budget's period has used (rewards taken
    back inside their hold give their share back)."""
    rewarded: dict[str, list[tuple[str, datetime]]] = {}
    cap = rules.referrals.cap_per_advocate
    if cap is not None and qualifications:
        since = min(event.occurred_at for event in qualifications) - timedelta(days=cap.period_days)
        advocates = list({event.advocate_customer_id for event in qualifications})
        rows = await fetch(session, _REWARDED, {"ids": advocates, "since": since})
        for advocate_id, referral_id, qualified_at in rows:
            assert qualified_at is not None  # the query asks for a later one
            rewarded.setdefault(advocate_id, []).append((referral_id, qualified_at))
    start = month_start(now) if rules.referrals.budget.period == "month" else None
    query, values = (_BUDGET_USED, {}) if start is None else (_BUDGET_USED_SINCE, {"since": start})
    ((points, credit),) = await fetch(session, query, values)
    return ReferralLimits(rewarded, BudgetUse(points=int(points or 0), credit=Decimal(credit or 0)), start)


def grant_referral_reward(
    uow: UnitOfWork[Any],
    event: ReferralQualifiedV1,
    *,
    side: str,
    customer_id: str,
    rule: ReferralRewardRule,
    rules: Rules,
    balances: Balances,
) -> Grant:
    """Grant one side's reward, pending until the referral's hold ends."""
    kind = f"referral_{side}"
    unit, amount, value = _referral_reward_value(rule, rules)
    code = _issue_referral_coupon(uow, event, customer_id, rule, rules) if unit == "coupon" else None
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
    return Grant.of(entry)


def _referral_reward_value(rule: ReferralRewardRule, rules: Rules) -> tuple[str, Decimal, Decimal | None]:
    """What a side's reward is: its unit (points, a currency for store credit, or `coupon`), its
    amount and its value in the reporting currency (none for points)."""
    if rule.points is not None:
        return POINTS, Decimal(rule.points), None
    if rule.credit is not None:
        credit = rule.credit
        return credit.currency, credit.amount, rules.in_reporting_currency(credit.amount, credit.currency)
    assert rule.coupon is not None  # the rules model guarantees one of the three
    coupon = rule.coupon
    return "coupon", coupon.amount, rules.in_reporting_currency(coupon.amount, coupon.currency)


def _issue_referral_coupon(
    uow: UnitOfWork[Any], event: ReferralQualifiedV1, customer_id: str, rule: ReferralRewardRule, rules: Rules
) -> str:
    """A new coupon of the rule's amount, valid once the referral's hold ends; returns its code."""
    assert rule.coupon is not None
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
        created_at=uow.now,
    )
    return code


@dataclass
class CompensationBudget:
    """Which cases were settled (compensated or withheld) and what this month's compensation
    has given per currency: read once for a batch of resolved cases, kept current."""

    settled: set[str] = field(default_factory=set)  # once keys
    granted: dict[str, Decimal] = field(default_factory=dict)


async def compensation_budget(
    session: AsyncSession, cases: Collection[CaseResolvedV1], now: datetime
) -> CompensationBudget:
    """The settled cases among `cases` and what the month has granted in their currencies."""
    once_keys = [f"compensation:{event.case_id}" for event in cases]
    currencies = list({event.compensation.currency for event in cases if event.compensation is not None})
    if not once_keys:
        return CompensationBudget()
    settled = {key for (key,) in await fetch(session, _SETTLED, {"keys": once_keys})}
    granted = dict.fromkeys(currencies, Decimal(0))
    for unit, total in await fetch(session, _COMPENSATED, {"units": currencies, "since": month_start(now)}):
        granted[unit] = Decimal(total or 0)
    return CompensationBudget(settled, granted)


def grant_compensation(
    uow: UnitOfWork[Any],
    event: CaseResolvedV1,
    compensation: Money,
    *,
    once_key: str,
    rules: Rules,
    budget: CompensationBudget,
    balances: Balances,
) -> None:
    """Store credit for a resolved case, available at once, if this month's budget allows;
    otherwise the withheld event says why."""
    currency = compensation.currency
    granted = budget.granted.get(currency, Decimal(0))
    budget.settled.add(once_key)
    reason = compensation_withheld_reason(compensation.amount, currency, granted, rules.compensation)
    if reason is not None:
        withhold(
            uow,
            customer_id=event.customer_id,
            kind=COMPENSATION,
            reason=reason,
            credit=compensation,
            case_id=event.case_id,
        )
        return
    budget.granted[currency] = granted + compensation.amount
    entry = add_entry(
        uow,
        customer_id=event.customer_id,
        kind=COMPENSATION,
        unit=currency,
        amount=compensation.amount,
        status="available",
        reason="case_compensation",
        once_key=once_key,
        case_id=event.case_id,
        reporting_value=rules.in_reporting_currency(compensation.amount, currency),
        released_at=uow.now,
    )
    balances.add(currency, "available", compensation.amount)
    uow.emit(
        RewardGrantedV1(
            customer_id=event.customer_id,
            reward_id=entry["id"],
            kind=COMPENSATION,
            status="available",
            credit=compensation,
            reason="case_compensation",
            source_event_id=uow.event_id,
            case_id=event.case_id,
            balance=balances.to_event(),
            occurred_at=entry["created_at"],
        )
    )
