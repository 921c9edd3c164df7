"""Handlers of the rewards service: one function per consumed event."""

from __future__ import annotations

import uuid
from functools import partial

from wom_chassis import EventHandlers, UnitOfWork, get_logger, utcnow
from wom_contracts import Balance, OrderCompletedV1, RewardGrantedV1

from rewards.domain import EarningRules, points_for_order, release_date
from rewards.ledger import LedgerView, load_ledger_view
from rewards.models import LedgerEntry

__all__ = ["build_handlers", "on_order_completed"]

log = get_logger(__name__)


async def on_order_completed(event: OrderCompletedV1, uow: UnitOfWork, *, rules: EarningRules) -> None:
    """Grant points for a purchase, once per order, pending until the return window ends."""
    ledger: LedgerView = uow.preloaded
    if event.order_id in ledger.rewarded_orders:
        log.info("order_already_rewarded", order_id=event.order_id)
        return
    points = points_for_order(event.total.amount, event.total.currency, rules)
    if points <= 0:
        log.info(
            "no_points_for_order",
            order_id=event.order_id,
            currency=event.total.currency,
            amount=str(event.total.amount),
        )
        return
    entry = uow.insert(
        LedgerEntry,
        id=uuid.uuid4().hex,
        customer_id=event.customer_id,
        kind="earn",
        points=points,
        status="pending",
        reason="purchase",
        order_id=event.order_id,
        source_event_id=uow.envelope.id,
        hold_until=release_date(event.completed_at, rules),
        created_at=utcnow(),
    )
    ledger.add(entry)
    totals = ledger.balance(event.customer_id)
    uow.emit(
        RewardGrantedV1(
            customer_id=event.customer_id,
            reward_id=entry["id"],
            kind="earn",
            status="pending",
            points=points,
            reason="purchase",
            source_event_id=uow.envelope.id,
            order_id=event.order_id,
            hold_until=entry["hold_until"],
            balance=Balance(
                points_available=totals.get("available", 0), points_pending=totals.get("pending", 0)
            ),
            occurred_at=entry["created_at"],
        )
    )


def build_handlers(rules: EarningRules) -> EventHandlers:
    """The rewards handlers, bound to their rules."""
    handlers = EventHandlers()
    handlers.on(OrderCompletedV1, preload=load_ledger_view)(partial(on_order_completed, rules=rules))
    return handlers
