"""What a run of orders reads once: known orders, accounts, parked refunds, the ranking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import get_logger, utcnow
from wom_contracts import OrderCompletedV1

from rewards.domain.balances import Balances
from rewards.domain.tiers import Ranking, TierState
from rewards.ledger import balances_of, erased_among
from rewards.models import Order, Refund
from rewards.rules import Rules
from rewards.tiering import current_ranking, order_counts, tier_states, trailing_revenues

__all__ = ["Account", "OrderBatch", "load_order_batch"]

log = get_logger(__name__)


@dataclass
class Account:
    """What the order path needs to know of one customer."""

    tier: TierState
    revenue: Decimal
    orders: int
    balances: Balances


@dataclass
class OrderBatch:
    """What a run of orders needs, read once and kept current by the handler as it writes."""

    known_orders: set[str]
    accounts: dict[str, Account]
    parked_refunds: dict[str, list[Refund]]
    erased: set[str]
    ranking: Ranking

    def take_parked_refunds(self, event: OrderCompletedV1) -> list[Refund]:
        """The refunds that waited for this order; one that does not match it (another
        customer or currency) stays parked, visible in the refunds table, and is logged."""
        refunds = []
        for refund in self.parked_refunds.pop(event.order_id, []):
            if refund.currency != event.total.currency or refund.customer_id != event.customer_id:
                log.error("parked_refund_does_not_match_order", refund_id=refund.refund_id)
                continue
            refunds.append(refund)
        return refunds


async def load_order_batch(
    session: AsyncSession, orders: Sequence[OrderCompletedV1], *, rules: Rules
) -> OrderBatch:
    """Everything a run of orders reads: known orders, accounts, parked refunds, the ranking."""
    now = utcnow()
    ids = [order.customer_id for order in orders]
    order_ids = [order.order_id for order in orders]
    known = set(await session.scalars(select(Order.order_id).where(Order.order_id.in_(order_ids))))
    balances = await balances_of(session, ids)
    revenues = await trailing_revenues(session, now, rules, ids)
    counts = await order_counts(session, ids)
    states = await tier_states(session, ids)
    parked: dict[str, list[Refund]] = {}
    for refund in await session.scalars(
        select(Refund)
        .where(Refund.order_id.in_(order_ids), Refund.applied_at.is_(None))
        .order_by(Refund.refunded_at, Refund.refund_id)
    ):
        parked.setdefault(refund.order_id, []).append(refund)
    ranking = await current_ranking(session, now, rules)
    accounts = {
        customer_id: Account(
            states[customer_id], revenues[customer_id], counts[customer_id], balances[customer_id]
        )
        for customer_id in set(ids)
    }
    return OrderBatch(known, accounts, parked, await erased_among(session, ids), ranking)
