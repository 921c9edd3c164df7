"""Reading and writing the ledger: entries are appended, balances are sums of entries."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, new_id, utcnow
from wom_chassis.driver import fetch
from wom_chassis.privacy import erased_among as erased_in_register
from wom_contracts import Money, RewardRevokedV1, RewardWithheldV1

from rewards.domain.balances import POINTS, Balances, as_money
from rewards.models import ErasedCustomer, LedgerEntry, WithheldReward

__all__ = [
    "ANONYMOUS_PREFIX",
    "Grant",
    "add_entry",
    "amount_fields",
    "announce_revoked",
    "balance_of",
    "balances_of",
    "erased_among",
    "is_anonymous",
    "is_erased",
    "month_start",
    "revoke",
    "reward_grants",
    "withhold",
]

ANONYMOUS_PREFIX = "#erased-"  # '#' is outside the id alphabet: no real customer id looks like it


def is_anonymous(customer_id: str) -> bool:
    """True for the pseudonym an erased customer's ledger was moved to."""
    return customer_id.startswith(ANONYMOUS_PREFIX)


def add_entry(
    uow: UnitOfWork[Any],
    *,
    customer_id: str,
    kind: str,
    unit: str,
    amount: Decimal | int,
    status: str,
    reason: str,
    once_key: str,
    **columns: Any,
) -> dict[str, Any]:
    """Append a ledger entry in the unit of work (written at its next flush); return the row."""
    return uow.insert(
        LedgerEntry,
        id=new_id(),
        customer_id=customer_id,
        kind=kind,
        unit=unit,
        amount=Decimal(amount),
        status=status,
        reason=reason,
        once_key=once_key,
        source_event_id=uow.cause_id or "scheduled",
        created_at=utcnow(),  # not the batch's clock: entries are listed in the order they were made
        **columns,
    )


# built once: a batch's ids are bound at execution rather than compiled into each statement
_BALANCES = (
    select(LedgerEntry.customer_id, LedgerEntry.unit, LedgerEntry.status, func.sum(LedgerEntry.amount))
    .where(LedgerEntry.customer_id.in_(bindparam("ids", expanding=True)))
    .group_by(LedgerEntry.customer_id, LedgerEntry.unit, LedgerEntry.status)
)


async def balances_of(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, Balances]:
    """The balances of each customer, summed from their entries in one query."""
    ids = list(set(customer_ids))
    balances = {customer_id: Balances() for customer_id in ids}
    if not ids:
        return balances
    for customer_id, unit, status, total in await fetch(session, _BALANCES, {"ids": ids}):
        balances[customer_id].add(unit, status, Decimal(total or 0))
    return balances


async def balance_of(session: AsyncSession, customer_id: str) -> Balances:
    """One customer's balances."""
    return (await balances_of(session, [customer_id]))[customer_id]


async def is_erased(session: AsyncSession, customer_id: str) -> bool:
    """True when the customer asked to be forgotten."""
    return bool(await erased_among(session, [customer_id]))


async def erased_among(session: AsyncSession, customer_ids: Sequence[str]) -> set[str]:
    """The customers among `customer_ids` who asked to be forgotten."""
    return await erased_in_register(session, ErasedCustomer, customer_ids)


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s calendar month (budgets are monthly, in UTC)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def amount_fields(unit: str, amount: Decimal, coupon_code: str | None = None) -> dict[str, Any]:
    """How an amount of `unit` travels in reward events: points, credit or a coupon code."""
    if unit == POINTS:
        return {"points": int(amount)}
    if unit == "coupon":
        return {"coupon_code": coupon_code}
    return {"credit": as_money(amount, unit)}


@dataclass(slots=True)
class Grant:
    """A ledger entry that gives something (a referral reward, say), as a batch reads it to take
    it back: the columns a revocation needs and the row's required ones."""

    id: str
    customer_id: str
    kind: str
    unit: str
    amount: Decimal
    status: str
    reason: str
    once_key: str
    source_event_id: str
    created_at: datetime
    order_id: str | None = None
    referral_id: str | None = None
    case_id: str | None = None
    coupon_code: str | None = None
    reporting_value: Decimal | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Grant:
        """The grant of an entry written in this unit of work (`add_entry`'s row)."""
        fields: dict[str, Any] = {name: entry.get(name) for name in _GRANT_FIELDS}
        return cls(**fields)

    def row(self) -> dict[str, Any]:
        """The entry's row, as far as the grant knows it."""
        return {name: getattr(self, name) for name in _GRANT_FIELDS}


_GRANT_FIELDS = tuple(Grant.__dataclass_fields__)
_REWARD_GRANTS = (
    select(*(getattr(LedgerEntry, name) for name in _GRANT_FIELDS))
    .where(LedgerEntry.referral_id.in_(bindparam("ids", expanding=True)), LedgerEntry.amount > 0)
    .order_by(LedgerEntry.kind)
)


async def reward_grants(session: AsyncSession, referral_ids: Collection[str]) -> dict[str, list[Grant]]:
    """The rewards granted for each of `referral_ids` (both sides, advocate first)."""
    grants: dict[str, list[Grant]] = {}
    if not referral_ids:
        return grants
    for row in await fetch(session, _REWARD_GRANTS, {"ids": list(referral_ids)}):
        grant = Grant(*row)
        grants.setdefault(grant.referral_id or "", []).append(grant)
    return grants


def revoke(uow: UnitOfWork[Any], grant: Grant, *, reason: str, balances: Balances) -> None:
    """Take a whole reward back. A pending one is cancelled (it will never be released); an
    available one is debited, even if that takes the balance below zero. The customer is told,
    unless they were erased (the grant is then under a pseudonym)."""
    amount = grant.amount
    was = grant.status
    if was == "pending":
        grant.status = "revoked"
        # an update, written as an upsert of the row so that it joins the batch's buffered
        # writes: they come after its inserts, and the grant may be one of them
        uow.upsert(LedgerEntry, grant.row(), key=["id"], update=["status"])
    add_entry(
        uow,
        customer_id=grant.customer_id,
        kind="revoke",
        unit=grant.unit,
        amount=-amount,
        status="revoked" if was == "pending" else was,
        reason=reason,
        once_key=f"revoke:{grant.id}",
        order_id=grant.order_id,
        referral_id=grant.referral_id,
        case_id=grant.case_id,
        offsets_entry_id=grant.id,
        coupon_code=grant.coupon_code,
    )
    balances.add(grant.unit, was, -amount)
    announce_revoked(
        uow,
        customer_id=grant.customer_id,
        reward_id=grant.id,
        kind=grant.kind,
        reason=reason,
        balances=balances,
        occurred_at=uow.now,
        order_id=grant.order_id,
        referral_id=grant.referral_id,
        **amount_fields(grant.unit, amount, grant.coupon_code),
    )


def announce_revoked(
    uow: UnitOfWork[Any],
    *,
    customer_id: str,
    reward_id: str,
    kind: str,
    reason: str,
    balances: Balances,
    occurred_at: datetime,
    **fields: Any,
) -> None:
    """Announce that a reward (or a share of it: a clawback, an expiry) was taken back; `fields`
    carry the amount taken and what it is about. Nobody is told about an erased customer, under
    any name: the books balance all the same."""
    if is_anonymous(customer_id):
        return
    uow.emit(
        RewardRevokedV1(
            customer_id=customer_id,
            reward_id=reward_id,
            kind=kind,
            reason=reason,
            balance=balances.to_event(),
            occurred_at=occurred_at,
            **fields,
        )
    )


def withhold(
    uow: UnitOfWork[Any],
    *,
    customer_id: str,
    kind: str,
    reason: str,
    points: int | None = None,
    credit: Money | None = None,
    referral_id: str | None = None,
    case_id: str | None = None,
) -> None:
    """Record and announce a reward that the rules withheld (`points`, or `credit` for store
    credit and coupons), with the reason."""
    now = uow.now
    uow.insert(
        WithheldReward,
        id=new_id(),
        once_key=f"{kind}:{referral_id or case_id}",
        customer_id=customer_id,
        kind=kind,
        reason=reason,
        unit=POINTS if credit is None else credit.currency,
        amount=Decimal(points or 0) if credit is None else credit.amount,
        referral_id=referral_id,
        case_id=case_id,
        source_event_id=uow.event_id,
        created_at=now,
    )
    uow.emit(
        RewardWithheldV1(
            customer_id=customer_id,
            kind=kind,
            reason=reason,
            points=points,
            credit=credit,
            referral_id=referral_id,
            case_id=case_id,
            occurred_at=now,
        )
    )
