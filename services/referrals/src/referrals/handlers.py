"""Handlers of the referrals service: one function per consumed event."""

from __future__ import annotations

from functools import partial

from wom_chassis import EventHandlers, EventRejected, UnitOfWork, get_logger
from wom_contracts import CustomerErasedV1, CustomerRegisteredV1, OrderCompletedV1, OrderRefundedV1

from referrals.attribution import attribute, attribute_parked, issue_code
from referrals.batch_view import BatchView, load_orders, load_registrations
from referrals.decisions import reconsider_after_refund, settle_friend
from referrals.domain.codes import normalise_code
from referrals.erasure import forget_customer, is_erased
from referrals.models import Customer, Order, Refund
from referrals.programme import Programme

__all__ = [
    "build_handlers",
    "on_customer_erased",
    "on_customer_registered",
    "on_order_completed",
    "on_order_refunded",
]

log = get_logger(__name__)


async def on_customer_registered(
    event: CustomerRegisteredV1, uow: UnitOfWork, *, programme: Programme
) -> None:
    """Every customer gets a code; a code given at sign-up attributes them to its owner; friends
    who used this customer's code before it was known are attributed now."""
    session = uow.session
    view: BatchView = uow.preloaded
    if event.customer_id in view.erased:
        log.info("event_for_erased_customer_ignored")
        return
    signup_code = normalise_code(event.referral_code) if event.referral_code else None
    customer = await view.customer(session, event.customer_id)
    if customer is None:
        customer = Customer(customer_id=event.customer_id, registered_at=event.registered_at)
        session.add(customer)
        view.customers[event.customer_id] = customer
    customer.locale = event.locale
    customer.email_hash = programme.email_hash(str(event.email))
    customer.disposable_email = programme.is_disposable(str(event.email))
    customer.ip_hash = programme.hashed(str(event.ip_address) if event.ip_address else None)
    customer.device_hash = programme.hashed(event.device_id)
    customer.signup_code = customer.signup_code or signup_code
    if customer.signup_code:
        view.parked[customer.signup_code] = True  # (if the code is not known yet) it waits for it
    if await view.customer_code(session, event.customer_id) is None:
        code = await issue_code(uow, view, event.customer_id, event.first_name, programme)
        if view.may_have_parked(code):
            await attribute_parked(uow, view, code, programme)
    if signup_code:
        await attribute(
            uow,
            view,
            friend_id=event.customer_id,
            code=signup_code,
            source="registration",
            at=event.registered_at,
            order_id=None,
            programme=programme,
        )
    await settle_friend(uow, view, event.customer_id, programme)  # it may have waited for the registration


async def on_order_completed(event: OrderCompletedV1, uow: UnitOfWork, *, programme: Programme) -> None:
    """A code at checkout attributes the friend; the friend's first order decides the referral."""
    view: BatchView = uow.preloaded
    if event.customer_id in view.erased:
        log.info("event_for_erased_customer_ignored", order_id=event.order_id)
        return
    if event.order_id in view.known_orders:
        log.info("order_already_recorded", order_id=event.order_id)
        return
    view.known_orders.add(event.order_id)
    checkout_code = normalise_code(event.referral_code) if event.referral_code else None
    uow.session.add(
        Order(
            order_id=event.order_id,
            customer_id=event.customer_id,
            amount=event.total.amount,
            currency=event.total.currency,
            checkout_code=checkout_code,
            payment_fingerprint=event.payment_fingerprint,
            completed_at=event.completed_at,
        )
    )
    if checkout_code:
        await attribute(
            uow,
            view,
            friend_id=event.customer_id,
            code=checkout_code,
            source="checkout",
            at=event.completed_at,
            order_id=event.order_id,
            programme=programme,
        )
    await settle_friend(uow, view, event.customer_id, programme)


async def on_order_refunded(event: OrderRefundedV1, uow: UnitOfWork, *, programme: Programme) -> None:
    """A refund of a qualifying order inside the hold may undo the referral; a refund before its
    order is kept and counted when the order arrives."""
    session = uow.session
    if await is_erased(session, event.customer_id):
        log.info("event_for_erased_customer_ignored", refund_id=event.refund_id)
        return
    if await session.get(Refund, event.refund_id) is not None:
        log.info("refund_already_recorded", refund_id=event.refund_id)
        return
    order = await session.get(Order, event.order_id)
    if order is not None and order.currency != event.amount.currency:
        raise EventRejected(
            "refund_currency_mismatch",
            f"refund in {event.amount.currency} of order {event.order_id} in {order.currency}",
        )
    session.add(
        Refund(
            refund_id=event.refund_id,
            order_id=event.order_id,
            customer_id=event.customer_id,
            amount=event.amount.amount,
            currency=event.amount.currency,
            refunded_at=event.refunded_at,
        )
    )
    await reconsider_after_refund(uow, event.order_id, event.refunded_at, programme)


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork) -> None:
    """Forget the customer; their referrals keep counting under a pseudonym."""
    await forget_customer(uow.session, event.customer_id)
    log.info("customer_erased")


def build_handlers(programme: Programme) -> EventHandlers:
    """The referrals handlers, bound to the programme."""
    handlers = EventHandlers()
    handlers.on(CustomerRegisteredV1, preload=partial(load_registrations, programme=programme))(
        partial(on_customer_registered, programme=programme)
    )
    handlers.on(OrderCompletedV1, preload=partial(load_orders, programme=programme))(
        partial(on_order_completed, programme=programme)
    )
    handlers.on(OrderRefundedV1)(partial(on_order_refunded, programme=programme))
    handlers.on(CustomerErasedV1)(on_customer_erased)
    return handlers
