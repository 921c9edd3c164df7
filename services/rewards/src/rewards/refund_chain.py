"""The one refund chain: a refund claws back its share of the order's points, never more."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from wom_chassis import UnitOfWork
from wom_chassis.driver import fetch
from wom_contracts import EARN, ORDER_PARTIALLY_REFUNDED, ORDER_REFUNDED, RevocationReason

from rewards.domain.balances import POINTS, Balances
from rewards.domain.refunds import clawback_points
from rewards.ledger import add_entry, announce_revoked
from rewards.models import LedgerEntry
from rewards.purchases import StoredRefund

__all__ = ["PurchaseGrant", "claw_back_refunds", "claw_back_share", "purchase_grants", "refund_reason"]


@dataclass(slots=True)
class PurchaseGrant:
    """The points an order earned (its `earn` entry) and how many refunds took back so far."""

    id: str
    customer_id: str
    status: str
    order_id: str
    hold_until: datetime | None
    points: int
    clawed: int = 0

    @classmethod
    def of(cls, entry: dict[str, Any]) -> PurchaseGrant:
        """The grant of an `earn` entry written in this unit of work."""
        return cls(
            entry["id"],
            entry["customer_id"],
            entry["status"],
            entry["order_id"],
            entry["hold_until"],
            int(entry["amount"]),
        )


def claw_back_share(
    uow: UnitOfWork[Any],
    grant: PurchaseGrant,
    *,
    refunded: Decimal,
    total: Decimal,
    refund_id: str,
    balances: Balances,
) -> None:
    """The one clawback: take back what refund `refund_id` adds to the grant's refunded share
    (`refunded` of the order's `total` so far), never more than was granted. The clawback shares
    the grant's status: a pending grant is released with its clawbacks, an available one loses
    them now; a revoked grant has nothing left to take."""
    if grant.status == "revoked":
        return
    points = clawback_points(grant.points, total, refunded, grant.clawed)
    if points:
        reason = refund_reason(refunded, total)
        _claw_back(uow, grant, points=points, refund_id=refund_id, reason=reason, balances=balances)


def _claw_back(
    uow: UnitOfWork[Any],
    grant: PurchaseGrant,
    *,
    points: int,
    refund_id: str,
    reason: str,
    balances: Balances,
) -> None:
    row = add_entry(
        uow,
        customer_id=grant.customer_id,
        kind="clawback",
        unit=POINTS,
        amount=-points,
        status=grant.status,
        reason=reason,
        once_key=f"clawback:{refund_id}",
        order_id=grant.order_id,
        refund_id=refund_id,
        offsets_entry_id=grant.id,
        hold_until=grant.hold_until,
    )
    grant.clawed += points
    balances.add(POINTS, grant.status, Decimal(-points))
    announce_revoked(
        uow,
        customer_id=grant.customer_id,
        reward_id=grant.id,
        kind=EARN,
        reason=reason,
        balances=balances,
        occurred_at=row["created_at"],
        points=points,
        order_id=grant.order_id,
        refund_id=refund_id,
    )


def refund_reason(refunded: Decimal, total: Decimal) -> RevocationReason:
    """The reason code a clawback carries: the order was refunded in full or in part."""
    return ORDER_REFUNDED if refunded >= total else ORDER_PARTIALLY_REFUNDED


def claw_back_refunds(
    uow: UnitOfWork[Any],
    grant: PurchaseGrant,
    refunds: Sequence[StoredRefund],
    total: Decimal,
    balances: Balances,
) -> None:
    """Apply refunds that arrived before their order, in the order they were made."""
    refunded = Decimal(0)
    for refund in refunds:
        refunded += refund.amount
        claw_back_share(
            uow, grant, refunded=refunded, total=total, refund_id=refund.refund_id, balances=balances
        )


_CLAWBACK = aliased(LedgerEntry)
_CLAWED = (
    select(func.coalesce(func.sum(_CLAWBACK.amount), 0))
    .where(_CLAWBACK.offsets_entry_id == LedgerEntry.id, _CLAWBACK.kind == "clawback")
    .scalar_subquery()
)
# built once: a batch's values are bound at execution rather than compiled into each statement
_PURCHASE_GRANTS = select(
    LedgerEntry.id,
    LedgerEntry.customer_id,
    LedgerEntry.status,
    LedgerEntry.order_id,
    LedgerEntry.hold_until,
    LedgerEntry.amount,
    _CLAWED,
).where(LedgerEntry.once_key.in_(bindparam("keys", expanding=True)))


async def purchase_grants(session: AsyncSession, order_ids: Collection[str]) -> dict[str, PurchaseGrant]:
    """The purchase grants of the orders `order_ids` (those that earned points), by order, each
    with what was clawed back of it so far."""
    if not order_ids:
        return {}
    once_keys = [f"earn:{order_id}" for order_id in order_ids]
    rows = await fetch(session, _PURCHASE_GRANTS, {"keys": once_keys})
    return {
        order_id: PurchaseGrant(id_, customer_id, status, order_id, hold_until, int(amount), -int(taken or 0))
        for id_, customer_id, status, order_id, hold_until, amount, taken in rows
        if order_id is not None  # every purchase grant has its order
    }
