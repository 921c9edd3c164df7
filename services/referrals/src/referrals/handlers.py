"""Handlers of the referrals service: store what later rules need (rules come in their issue)."""

from __future__ import annotations

from sqlalchemy import delete
from wom_chassis import EventHandlers, UnitOfWork
from wom_contracts import CustomerErasedV1, CustomerRegisteredV1, OrderCompletedV1, OrderRefundedV1

from referrals.models import Customer, Order, Refund

__all__ = [
    "build_handlers",
    "on_customer_erased",
    "on_customer_registered",
    "on_order_completed",
    "on_order_refunded",
]


async def on_customer_registered(event: CustomerRegisteredV1, uow: UnitOfWork) -> None:
    """Remember the customer and the code they signed up with."""
    await uow.session.merge(
        Customer(
            customer_id=event.customer_id,
            registered_at=event.registered_at,
            signup_code=event.referral_code,
            device_id=event.device_id,
        )
    )


async def on_order_completed(event: OrderCompletedV1, uow: UnitOfWork) -> None:
    """Remember the order (once per order id)."""
    await uow.session.merge(
        Order(
            order_id=event.order_id,
            customer_id=event.customer_id,
            amount=event.total.amount,
            currency=event.total.currency,
            checkout_code=event.referral_code,
            payment_fingerprint=event.payment_fingerprint,
            completed_at=event.completed_at,
        )
    )


async def on_order_refunded(event: OrderRefundedV1, uow: UnitOfWork) -> None:
    """Remember the refund, even when its order has not arrived yet."""
    await uow.session.merge(
        Refund(
            refund_id=event.refund_id,
            order_id=event.order_id,
            customer_id=event.customer_id,
            amount=event.amount.amount,
            currency=event.amount.currency,
            refunded_at=event.refunded_at,
        )
    )


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork) -> None:
    """Forget everything about the customer."""
    for table in (Refund, Order, Customer):
        await uow.session.execute(delete(table).where(table.customer_id == event.customer_id))


def build_handlers() -> EventHandlers:
    """The referrals handlers."""
    handlers = EventHandlers()
    handlers.on(CustomerRegisteredV1)(on_customer_registered)
    handlers.on(OrderCompletedV1)(on_order_completed)
    handlers.on(OrderRefundedV1)(on_order_refunded)
    handlers.on(CustomerErasedV1)(on_customer_erased)
    return handlers
