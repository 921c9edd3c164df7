"""Tiers against the database: trailing revenue, rankings, and applying a tier change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, utcnow
from wom_contracts import TierChangedV1

from rewards.domain.balances import as_money
from rewards.domain.tiers import Position, Ranking, TierState, TierStep, next_tier, rank_customers
from rewards.ledger import ANONYMOUS_PREFIX
from rewards.models import Customer, Order, TierRanking
from rewards.rules import Rules

__all__ = [
    "apply_tier_step",
    "compute_ranking",
    "current_ranking",
    "latest_ranking",
    "order_counts",
    "reevaluate_tier",
    "tier_states",
    "trailing_revenues",
]


ALWAYS_RERANK_BELOW = 1000  # customers: re-ranking so few costs less than a stale line


def _since(now: datetime, rules: Rules) -> datetime:
    return now - timedelta(days=rules.tiers.key_client.trailing_days)


async def trailing_revenues(
    session: AsyncSession, now: datetime, rules: Rules, customer_ids: Iterable[str] | None = None
) -> dict[str, Decimal]:
    """Net revenue (reporting currency) of the trailing window, per customer: of the given
    customers, or of everyone (erased customers' orders are gone and do not count)."""
    query = (
        select(Order.customer_id, func.sum(Order.revenue))
        .where(Order.completed_at >= _since(now, rules), ~Order.customer_id.startswith(ANONYMOUS_PREFIX))
        .group_by(Order.customer_id)
    )
    ids = None if customer_ids is None else list(set(customer_ids))
    if ids is not None:
        query = query.where(Order.customer_id.in_(ids))
    revenues = {customer_id: Decimal(0) for customer_id in ids or []}
    for customer_id, total in (await session.execute(query)).all():
        revenues[customer_id] = Decimal(total or 0)
    return revenues


async def order_counts(session: AsyncSession, customer_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Orders that were not refunded in full, per customer (of the given ones, or everyone's)."""
    query = (
        select(Order.customer_id, func.count())
        .where(Order.refunded < Order.total)
        .group_by(Order.customer_id)
    )
    ids = None if customer_ids is None else list(set(customer_ids))
    if ids is not None:
        query = query.where(Order.customer_id.in_(ids))
    counts = dict.fromkeys(ids or [], 0)
    for customer_id, count in (await session.execute(query)).all():
        counts[customer_id] = int(count)
    return counts


async def tier_states(
    session: AsyncSession, customer_ids: Iterable[str] | None = None
) -> dict[str, TierState]:
    """The tier state of each customer (of the given ones, or everyone rewards keeps; a
    customer rewards keeps nothing of is a member)."""
    query = select(Customer.customer_id, Customer.tier, Customer.below_threshold_since)
    ids = None if customer_ids is None else list(set(customer_ids))
    if ids is not None:
        query = query.where(Customer.customer_id.in_(ids))
    states = {customer_id: TierState() for customer_id in ids or []}
    for customer_id, tier, below_since in (await session.execute(query)).all():
        states[customer_id] = TierState(tier, below_since)
    return states


async def latest_ranking(session: AsyncSession) -> TierRanking | None:
    """The most recent full ranking, if any."""
    return await session.scalar(select(TierRanking).order_by(TierRanking.id.desc()).limit(1))


async def current_ranking(session: AsyncSession, now: datetime, rules: Rules) -> Ranking:
    """The ranking to judge a revenue change by: the last one while it is fresh and large,
    else a new one (small shops are re-ranked on every change, which costs them little)."""
    latest = await latest_ranking(session)
    fresh_after = now - timedelta(minutes=float(rules.tiers.key_client.recompute_minutes))
    large = latest is not None and latest.ranked_customers >= ALWAYS_RERANK_BELOW
    if latest is not None and large and latest.computed_at >= fresh_after:
        return Ranking(latest.threshold, latest.ranked_customers, latest.key_clients)
    return (await compute_ranking(session, now, rules))[0]


async def compute_ranking(
    session: AsyncSession, now: datetime, rules: Rules
) -> tuple[Ranking, dict[str, Decimal]]:
    """Rank every customer now and record where the key-client line lies."""
    revenues = await trailing_revenues(session, now, rules)
    ranking = rank_customers(revenues, rules.tiers.key_client.top_percent)
    session.add(
        TierRanking(
            computed_at=now,
            threshold=ranking.threshold,
            ranked_customers=ranking.ranked_customers,
            key_clients=ranking.key_clients,
        )
    )
    await session.flush()
    return ranking, revenues


async def apply_tier_step(
    uow: UnitOfWork,
    customer_id: str,
    previous: TierState,
    step: TierStep,
    *,
    revenue: Decimal,
    ranking: Ranking | None,
    now: datetime,
    rules: Rules,
    position: Position | None = None,
) -> None:
    """Store the customer's new tier state and announce a change of tier."""
    if step.state == previous:
        return
    values = {
        "customer_id": customer_id,
        "tier": step.state.tier,
        "below_threshold_since": step.state.below_threshold_since,
        "updated_at": now,
    }
    if step.changed:
        values["tier_since"] = now
    # written at the next flush, with the other customers' changes of the batch in one statement:
    # nothing reads the row before (the order path keeps tiers current in its preloaded accounts)
    uow.upsert(Customer, values, key=["customer_id"])
    if not step.changed:
        return
    currency = rules.reporting_currency
    threshold = ranking.threshold if ranking is not None else None
    uow.emit(
        TierChangedV1(
            customer_id=customer_id,
            previous_tier=previous.tier,
            tier=step.state.tier,
            trailing_revenue=as_money(max(revenue, Decimal(0)), currency),
            percentile=position.percentile if position is not None else None,
            occurred_at=now,
            reason=step.reason,
            threshold=None if threshold is None else as_money(threshold, currency),
        )
    )


async def reevaluate_tier(uow: UnitOfWork, customer_id: str, rules: Rules) -> None:
    """Re-check one customer's tier against the last ranking (after their revenue changed)."""
    session, now = uow.session, utcnow()
    ranking = await current_ranking(session, now, rules)
    revenue = (await trailing_revenues(session, now, rules, [customer_id]))[customer_id]
    orders = (await order_counts(session, [customer_id]))[customer_id]
    state = (await tier_states(session, [customer_id]))[customer_id]
    step = next_tier(
        state, revenue=revenue, orders=orders, threshold=ranking.threshold, now=now, rules=rules.tiers
    )
    await apply_tier_step(
        uow, customer_id, state, step, revenue=revenue, ranking=ranking, now=now, rules=rules
    )
