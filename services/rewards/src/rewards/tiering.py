"""Tiers against the database: trailing revenue, rankings, and applying a tier change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, serialise
from wom_chassis.driver import fetch
from wom_contracts import TierChangedV1, is_upgrade

from rewards.domain.balances import as_money
from rewards.domain.tiers import Position, Ranking, Standings, TierState, TierStep, rank_customers
from rewards.ledger import ANONYMOUS_PREFIX
from rewards.models import Customer, Order, TierRanking
from rewards.rules import Rules

__all__ = [
    "KeyClientLine",
    "OrderTotals",
    "apply_tier_step",
    "compute_ranking",
    "key_client_line",
    "latest_ranking",
    "order_counts",
    "order_totals",
    "tier_states",
    "trailing_revenues",
    "trailing_standing",
    "window_start",
]


ALWAYS_RERANK_BELOW = 1000  # customers: re-ranking so few costs less than a stale line


def window_start(now: datetime, rules: Rules) -> datetime:
    """The first instant of the trailing window that revenue is summed over for tiers."""
    return now - timedelta(days=rules.tiers.key_client.trailing_days)


# erased customers' orders are gone; these would be theirs: no sum or count of orders has them
_NOT_ANONYMOUS = ~Order.customer_id.startswith(ANONYMOUS_PREFIX)
_COUNTED = Order.refunded < Order.total  # an order not refunded in full counts towards repeat buying
# the trailing window, its start bound at execution (`window_start`)
_IN_WINDOW = Order.completed_at >= bindparam("since", type_=Order.completed_at.type)


async def trailing_revenues(
    session: AsyncSession, now: datetime, rules: Rules, customer_ids: Iterable[str] | None = None
) -> dict[str, Decimal]:
    """Net revenue (reporting currency) of the trailing window, per customer: of the given
    customers, or of everyone (erased customers' orders are gone and do not count)."""
    ids = None if customer_ids is None else list(set(customer_ids))
    since = window_start(now, rules)
    query, parameters = (
        (_REVENUES, {"since": since}) if ids is None else (_REVENUES_OF, {"since": since, "ids": ids})
    )
    revenues = {customer_id: Decimal(0) for customer_id in ids or []}
    for customer_id, total in await fetch(session, query, parameters):
        revenues[customer_id] = Decimal(total or 0)
    return revenues


async def order_counts(session: AsyncSession, customer_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Orders that were not refunded in full, per customer (of the given ones, or everyone's)."""
    query = (
        select(Order.customer_id, func.count()).where(_COUNTED, _NOT_ANONYMOUS).group_by(Order.customer_id)
    )
    ids = None if customer_ids is None else list(set(customer_ids))
    if ids is not None:
        query = query.where(Order.customer_id.in_(ids))
    counts = dict.fromkeys(ids or [], 0)
    for customer_id, count in (await session.execute(query)).all():
        counts[customer_id] = int(count)
    return counts


@dataclass(frozen=True, slots=True)
class OrderTotals:
    """What a customer's orders add up to for tiers."""

    revenue: Decimal = Decimal(0)  # net, of the trailing window, in the reporting currency
    orders: int = 0  # not refunded in full


# built once: a batch's ids are bound at execution rather than compiled into each statement
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_TOTALS_OF = (
    select(
        Order.customer_id,
        func.sum(Order.revenue).filter(_IN_WINDOW),
        func.count().filter(_COUNTED),
    )
    .where(_NOT_ANONYMOUS, Order.customer_id.in_(_IDS))
    .group_by(Order.customer_id)
)
_REVENUES = (
    select(Order.customer_id, func.sum(Order.revenue))
    .where(_IN_WINDOW, _NOT_ANONYMOUS)
    .group_by(Order.customer_id)
)
_REVENUES_OF = _REVENUES.where(Order.customer_id.in_(_IDS))
_PER_CUSTOMER = _REVENUES.with_only_columns(func.sum(Order.revenue).label("revenue")).subquery()
_RANKED = select(func.count()).select_from(_PER_CUSTOMER).where(_PER_CUSTOMER.c.revenue > 0)
_BETTER = (
    select(func.count())
    .select_from(_PER_CUSTOMER)
    .where(_PER_CUSTOMER.c.revenue > bindparam("revenue", type_=Order.revenue.type))
)
_ORDER_COUNTS = (
    select(Order.customer_id, func.count()).where(_COUNTED, _NOT_ANONYMOUS).group_by(Order.customer_id)
)
_TIER_STATES = select(Customer.customer_id, Customer.tier, Customer.below_threshold_since)
_TIER_STATES_OF = _TIER_STATES.where(Customer.customer_id.in_(_IDS))


async def order_totals(
    session: AsyncSession, now: datetime, rules: Rules, customer_ids: Iterable[str]
) -> dict[str, OrderTotals]:
    """`trailing_revenues` and `order_counts` of the given customers in one read."""
    ids = list(set(customer_ids))
    totals = dict.fromkeys(ids, OrderTotals())
    parameters = {"since": window_start(now, rules), "ids": ids}
    for customer_id, revenue, orders in await fetch(session, _TOTALS_OF, parameters):
        totals[customer_id] = OrderTotals(Decimal(revenue or 0), int(orders))
    return totals


async def trailing_standing(
    session: AsyncSession, now: datetime, rules: Rules, revenue: Decimal
) -> tuple[int, int]:
    """Where a trailing revenue of `revenue` stands among everyone's: how many customers have
    more, and how many are ranked at all (more than nothing), over the same window and orders as
    `trailing_revenues`."""
    since = window_start(now, rules)
    better = await session.scalar(_BETTER, {"since": since, "revenue": revenue})
    ranked = await session.scalar(_RANKED, {"since": since})
    return int(better or 0), int(ranked or 0)


async def tier_states(
    session: AsyncSession, customer_ids: Iterable[str] | None = None
) -> dict[str, TierState]:
    """The tier state of each customer (of the given ones, or everyone rewards keeps; a
    customer rewards keeps nothing of is a member)."""
    ids = None if customer_ids is None else list(set(customer_ids))
    query, parameters = (_TIER_STATES, {}) if ids is None else (_TIER_STATES_OF, {"ids": ids})
    states = {customer_id: TierState() for customer_id in ids or []}
    for customer_id, tier, below_since in await fetch(session, query, parameters):
        states[customer_id] = TierState(tier, below_since)
    return states


async def latest_ranking(session: AsyncSession) -> TierRanking | None:
    """The most recent full ranking, if any."""
    return await session.scalar(select(TierRanking).order_by(TierRanking.id.desc()).limit(1))


_LATEST_LINE = (
    select(
        TierRanking.threshold, TierRanking.ranked_customers, TierRanking.key_clients, TierRanking.computed_at
    )
    .order_by(TierRanking.id.desc())
    .limit(1)
)


class KeyClientLine:
    """The key-client line a batch judges tiers by, as a ranking on every revenue change would
    draw it. A large shop's is the recorded one while it is fresh (the tiers job draws it again);
    a small shop's is drawn from everyone's revenue, again after each change, until it ranks
    `ALWAYS_RERANK_BELOW` customers: that one is recorded and holds from then on."""

    def __init__(self, ranking: Ranking, standings: Standings | None) -> None:
        self._ranking = ranking
        self._standings = standings  # None: the line holds for the batch
        self._recorded = standings is None
        self._changed = False

    def ranking(self, uow: UnitOfWork[Any]) -> Ranking:
        """The line now; a line drawn anew is recorded (the first of the batch, and the one that
        holds from now on)."""
        standings = self._standings
        if standings is not None and (self._changed or not self._recorded):
            self._ranking, self._changed = standings.ranking(), False
            holds = self._ranking.ranked_customers >= ALWAYS_RERANK_BELOW
            if holds:
                self._standings = None
            if holds or not self._recorded:
                self._recorded = True
                uow.insert(
                    TierRanking,
                    computed_at=uow.now,
                    threshold=self._ranking.threshold,
                    ranked_customers=self._ranking.ranked_customers,
                    key_clients=self._ranking.key_clients,
                )
        return self._ranking

    def revenue_changed(self, customer_id: str, revenue: Decimal) -> None:
        """Take a customer's new trailing revenue into account."""
        if self._standings is not None:
            self._standings.update(customer_id, revenue)
            self._changed = True


KEY_CLIENT_LINE_LOCK = "wom:rewards:key-client-line"


async def key_client_line(session: AsyncSession, now: datetime, rules: Rules) -> KeyClientLine:
    """The line to judge a batch's revenue changes by: a large shop's recorded one while it is
    fresh, or drawn from everyone's trailing revenue."""
    latest = await fetch(session, _LATEST_LINE)
    fresh_after = now - timedelta(minutes=float(rules.tiers.key_client.recompute_minutes))
    if latest:
        threshold, ranked, key_clients, computed_at = latest[0]
        if ranked >= ALWAYS_RERANK_BELOW and computed_at >= fresh_after:
            return KeyClientLine(Ranking(threshold, ranked, key_clients), None)
    # drawn from everyone's orders, and moved by this batch's: one process at a time (WORKERS),
    # the next one reading what the previous committed (the last lock a transaction takes)
    await serialise(session, [KEY_CLIENT_LINE_LOCK])
    standings = Standings(await trailing_revenues(session, now, rules), rules.tiers.key_client.top_percent)
    return KeyClientLine(Ranking(None, 0, 0), standings)


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


def apply_tier_step(
    uow: UnitOfWork[Any],
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
    # nothing reads the row before (handlers keep tiers current in the batch's view)
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
            upgrade=is_upgrade(previous.tier, step.state.tier),
            trailing_revenue=as_money(max(revenue, Decimal(0)), currency),
            percentile=position.percentile if position is not None else None,
            occurred_at=now,
            reason=step.reason,
            threshold=None if threshold is None else as_money(threshold, currency),
        )
    )
