"""The one refund chain: a refund claws back its share of the order's points, never more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork
from wom_contracts import RewardRevokedV1

from rewards.domain.balances import POINTS, Balances
from rewards.domain.refunds import clawback_points
from rewards.ledger import add_entry
from rewards.models import LedgerEntry, Refund

__all__ = ["EarnRef", "claw_back", "claw_back_refunds", "clawed_back", "refund_reason"]


@dataclass(frozen=True)
class EarnRef:
    """The purchase grant a clawback takes from (a fresh row or a stored entry)."""

    id: str
    customer_id: str
    status: str
    order_id: str
    hold_until: datetime | None

    @classmethod
    def of(cls, entry: LedgerEntry | dict[str, Any]) -> EarnRef:
        """The reference of a stored entry or of a row written in this unit of work."""
        values = entry if isinstance(entry, dict) else entry.__dict__
        return cls(*(values[name] for name in ("id", "customer_id", "status", "order_id", "hold_until")))


def claw_back(
    uow: UnitOfWork,
    *,
    earn: EarnRef,
    points: int,
    refund_id: str,
    reason: str,
    balances: Balances,
) -> dict[str, Any]:
    """Take `points` of a purchase grant back for a refund. The clawback shares the grant's
    status: a pending grant is released with its clawbacks, an available one loses them now."""
    row = add_entry(
        uow,
        customer_id=earn.customer_id,
        kind="clawback",
        unit=POINTS,
        amount=-points,
        status=earn.status,
        reason=reason,
        once_key=f"clawback:{refund_id}",
        order_id=earn.order_id,
        refund_id=refund_id,
        offsets_entry_id=earn.id,
        hold_until=earn.hold_until,
    )
    balances.add(POINTS, earn.status, Decimal(-points))
    uow.emit(
        RewardRevokedV1(
            customer_id=earn.customer_id,
            reward_id=earn.id,
            kind="earn",
            points=points,
            reason=reason,
            order_id=earn.order_id,
            refund_id=refund_id,
            balance=balances.to_event(),
            occurred_at=row["created_at"],
        )
    )
    return row


def refund_reason(refunded: Decimal, total: Decimal) -> str:
    """The reason code a clawback carries: the order was refunded in full or in part."""
    return "order_refunded" if refunded >= total else "order_partially_refunded"


def claw_back_refunds(
    uow: UnitOfWork,
    earn: EarnRef,
    granted: int,
    refunds: Sequence[Refund],
    total: Decimal,
    balances: Balances,
) -> None:
    """Apply refunds that arrived before their order, in the order they were made."""
    refunded, clawed = Decimal(0), 0
    for refund in refunds:
        refunded += refund.amount
        points = clawback_points(granted, total, refunded, clawed)
        if points:
            reason = refund_reason(refunded, total)
            claw_back(
                uow, earn=earn, points=points, refund_id=refund.refund_id, reason=reason, balances=balances
            )
            clawed += points


async def clawed_back(session: AsyncSession, earn_id: str) -> int:
    """Points clawed back so far from one purchase grant."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.offsets_entry_id == earn_id, LedgerEntry.kind == "clawback"
        )
    )
    return -int(total or 0)
