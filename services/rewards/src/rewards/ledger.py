"""Reading the ledger: balances are sums of entries, never stored apart from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_contracts import OrderCompletedV1

from rewards.models import LedgerEntry

__all__ = ["LedgerView", "balance", "load_ledger_view"]


@dataclass
class LedgerView:
    """What a batch of orders needs of the ledger, loaded once and kept current by the handler."""

    rewarded_orders: set[str] = field(default_factory=set)
    balances: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, entry: dict[str, Any]) -> None:
        """Account for a ledger row written in this transaction."""
        if entry["order_id"] is not None and entry["kind"] == "earn":
            self.rewarded_orders.add(entry["order_id"])
        self.balances.setdefault(entry["customer_id"], Counter())[entry["status"]] += entry["points"]

    def balance(self, customer_id: str) -> Counter[str]:
        """Points per status for the customer."""
        return self.balances.setdefault(customer_id, Counter())


async def load_ledger_view(session: AsyncSession, orders: Sequence[OrderCompletedV1]) -> LedgerView:
    """The orders among `orders` already rewarded, and the balances of their customers."""
    view = LedgerView()
    order_ids = [order.order_id for order in orders]
    rewarded = await session.scalars(
        select(LedgerEntry.order_id).where(LedgerEntry.kind == "earn", LedgerEntry.order_id.in_(order_ids))
    )
    view.rewarded_orders = {order_id for order_id in rewarded if order_id is not None}
    customers = {order.customer_id for order in orders}
    for customer_id in customers:
        view.balances[customer_id] = Counter()
    rows = await session.execute(
        select(LedgerEntry.customer_id, LedgerEntry.status, func.sum(LedgerEntry.points))
        .where(LedgerEntry.customer_id.in_(customers))
        .group_by(LedgerEntry.customer_id, LedgerEntry.status)
    )
    for customer_id, status, total in rows.all():
        view.balances[customer_id][status] = int(total or 0)
    return view


async def balance(session: AsyncSession, customer_id: str) -> dict[str, int]:
    """Points per status (available, pending, ...) derived from the customer's entries."""
    rows = await session.execute(
        select(LedgerEntry.status, func.sum(LedgerEntry.points))
        .where(LedgerEntry.customer_id == customer_id)
        .group_by(LedgerEntry.status)
    )
    return {status: int(total or 0) for status, total in rows.all()}
