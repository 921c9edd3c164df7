"""The read side of rewards' HTTP API: what its endpoints answer, read from a session and returned
as rows for the routes to shape. Writes (a redemption) go through `rewards.redemptions`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.paging import Page

from rewards.domain.balances import Balances
from rewards.domain.tiers import KEY_CLIENT
from rewards.ledger import balance_of
from rewards.models import Coupon, Customer, LedgerEntry, TierRanking
from rewards.rules import Rules
from rewards.tiering import latest_ranking, order_counts, trailing_revenues, trailing_standing

__all__ = [
    "CustomerBalance",
    "KeyClient",
    "KeyClients",
    "KindTotal",
    "TierStanding",
    "customer_balance",
    "key_clients",
    "ledger_page",
    "tier_standing",
]


@dataclass(frozen=True)
class KindTotal:
    """The sum of a customer's entries of one kind, unit and status (coupons left out)."""

    kind: str
    unit: str
    status: str
    total: Decimal


@dataclass(frozen=True)
class CustomerBalance:
    """A customer's balances, their totals by kind, and their coupons in the order issued, each
    with the status of the entry that granted it (None when no entry did)."""

    balances: Balances
    by_kind: list[KindTotal]
    coupons: list[tuple[Coupon, str | None]]


async def customer_balance(session: AsyncSession, customer_id: str) -> CustomerBalance:
    """What `GET /customers/{id}/balance` shows."""
    balances = await balance_of(session, customer_id)
    by_kind = await session.execute(
        select(LedgerEntry.kind, LedgerEntry.unit, LedgerEntry.status, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.customer_id == customer_id, LedgerEntry.unit != "coupon")
        .group_by(LedgerEntry.kind, LedgerEntry.unit, LedgerEntry.status)
    )
    coupons = await session.execute(
        select(Coupon, LedgerEntry.status)
        .outerjoin(LedgerEntry, (LedgerEntry.coupon_code == Coupon.code) & (LedgerEntry.amount > 0))
        .where(Coupon.customer_id == customer_id)
        .order_by(Coupon.created_at)
    )
    return CustomerBalance(
        balances=balances,
        by_kind=[
            KindTotal(kind, unit, status, Decimal(total)) for kind, unit, status, total in by_kind.all()
        ],
        coupons=[(coupon, status) for coupon, status in coupons.all()],
    )


async def ledger_page(
    session: AsyncSession, customer_id: str, page: Page
) -> tuple[Sequence[LedgerEntry], int]:
    """A page of the customer's ledger entries, newest first, and how many they have in all."""
    total = await session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
    )
    entries = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return entries.all(), int(total or 0)


@dataclass(frozen=True)
class TierStanding:
    """Where a customer stands: their row (None for one never seen), trailing revenue, orders,
    the latest ranking, and how many of the ranked customers earned more."""

    customer: Customer | None
    revenue: Decimal
    orders: int
    ranking: TierRanking | None
    better: int
    ranked: int


async def tier_standing(session: AsyncSession, customer_id: str, now: datetime, rules: Rules) -> TierStanding:
    """What `GET /customers/{id}/tier` explains the tier with."""
    customer = await session.get(Customer, customer_id)
    revenue = (await trailing_revenues(session, now, rules, [customer_id]))[customer_id]
    orders = (await order_counts(session, [customer_id]))[customer_id]
    ranking = await latest_ranking(session)
    better, ranked = await trailing_standing(session, now, rules, revenue)
    return TierStanding(customer, revenue, orders, ranking, better, ranked)


@dataclass(frozen=True)
class KeyClient:
    customer_id: str
    since: datetime | None
    revenue: Decimal


@dataclass(frozen=True)
class KeyClients:
    """Every current key client, highest trailing revenue first (then by id), and the latest ranking."""

    clients: list[KeyClient]
    ranking: TierRanking | None


async def key_clients(session: AsyncSession, now: datetime, rules: Rules) -> KeyClients:
    """What `GET /key-clients` lists."""
    rows = (
        await session.execute(
            select(Customer.customer_id, Customer.tier_since).where(Customer.tier == KEY_CLIENT)
        )
    ).all()
    revenues = await trailing_revenues(session, now, rules, [row.customer_id for row in rows])
    clients = [KeyClient(row.customer_id, row.tier_since, revenues[row.customer_id]) for row in rows]
    clients.sort(key=lambda client: (-client.revenue, client.customer_id))
    return KeyClients(clients, await latest_ranking(session))
