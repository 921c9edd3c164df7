"""Orders and refunds as rewards keeps them: the rows a batch reads once and writes back."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.driver import fetch

from rewards.models import Order, Refund

__all__ = ["StoredOrder", "StoredRefund", "stored_orders", "stored_refunds"]


@dataclass(slots=True)
class StoredOrder:
    """A row of `orders`: what the refund chain and trailing revenue need of a completed order."""

    order_id: str
    customer_id: str
    currency: str
    total: Decimal
    refunded: Decimal
    revenue: Decimal  # net, in the reporting currency
    completed_at: datetime
    source_event_id: str

    def row(self) -> dict[str, Any]:
        """The row as the table takes it."""
        return {
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "currency": self.currency,
            "total": self.total,
            "refunded": self.refunded,
            "revenue": self.revenue,
            "completed_at": self.completed_at,
            "source_event_id": self.source_event_id,
        }


@dataclass(slots=True)
class StoredRefund:
    """A row of `refunds`; `applied_at` is empty while the refund waits for its order."""

    refund_id: str
    order_id: str
    customer_id: str
    currency: str
    amount: Decimal
    refunded_at: datetime
    source_event_id: str
    applied_at: datetime | None

    def row(self) -> dict[str, Any]:
        """The row as the table takes it."""
        return {
            "refund_id": self.refund_id,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "currency": self.currency,
            "amount": self.amount,
            "refunded_at": self.refunded_at,
            "source_event_id": self.source_event_id,
            "applied_at": self.applied_at,
        }


_ORDER_COLUMNS = (
    Order.order_id,
    Order.customer_id,
    Order.currency,
    Order.total,
    Order.refunded,
    Order.revenue,
    Order.completed_at,
    Order.source_event_id,
)
_REFUND_COLUMNS = (
    Refund.refund_id,
    Refund.order_id,
    Refund.customer_id,
    Refund.currency,
    Refund.amount,
    Refund.refunded_at,
    Refund.source_event_id,
    Refund.applied_at,
)


# built once: a batch's ids are bound at execution rather than compiled into each statement
_ORDERS = select(*_ORDER_COLUMNS).where(Order.order_id.in_(bindparam("order_ids", expanding=True)))
_REFUNDS = (
    select(*_REFUND_COLUMNS)
    .where(
        or_(
            Refund.refund_id.in_(bindparam("refund_ids", expanding=True)),
            Refund.order_id.in_(bindparam("order_ids", expanding=True)) & Refund.applied_at.is_(None),
        )
    )
    .order_by(Refund.refunded_at, Refund.refund_id)
)


async def stored_orders(session: AsyncSession, order_ids: Collection[str]) -> dict[str, StoredOrder]:
    """The stored orders among `order_ids`, by id."""
    if not order_ids:
        return {}
    rows = await fetch(session, _ORDERS, {"order_ids": list(order_ids)})
    return {row[0]: StoredOrder(*row) for row in rows}


async def stored_refunds(
    session: AsyncSession, refund_ids: Collection[str], waiting_for: Collection[str]
) -> list[StoredRefund]:
    """The stored refunds among `refund_ids`, and those that wait for one of the orders
    `waiting_for`, in the order they were made."""
    if not refund_ids and not waiting_for:
        return []
    rows = await fetch(session, _REFUNDS, {"refund_ids": list(refund_ids), "order_ids": list(waiting_for)})
    return [StoredRefund(*row) for row in rows]
