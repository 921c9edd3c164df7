"""Handlers of the referrals service: one function per consumed event, all reading the batch's
view (`BatchView`) and keeping it current."""

from __future__ import annotations

from functools import partial

from wom_chassis import EventHandlers, EventRejected, UnitOfWork, get_logger
from wom_contracts import CustomerErasedV1, CustomerRegisteredV1, OrderCompletedV1, OrderRefundedV1

from referrals.attribution import attribute, attribute_parked, issue_code
from referrals.batch_view import BatchView, load_batch_view
from referrals.decisions import reconsider_after_refund, settle_friend
from referrals.domain.codes import normalise_code
from referrals.domain.qualification import OrderFacts
from referrals.erasure import forget_customer
from referrals.models import Customer, Order, Refund
from referrals.programme import Programme
from referrals.view_rows import CustomerRow, Parked

__all__ = [
    "build_handlers",
    "on_customer_erased",
    "on_customer_registered",
    "on_order_completed",
    "on_order_refunded",
]

log = get_logger(__name__)


async def on_customer_registered(
    event: CustomerRegisteredV1, uow: UnitOfWork[BatchView], *, programme: Programme
) -> None:
    """Every customer gets a code; a code given at sign-up attributes them to its owner; friends
    who used this customer's code before it was known are attributed now."""
    view, customer_id = uow.view, event.customer_id
    if customer_id in view.erased:
        return
    signup_code = normalise_code(event.referral_code) if event.referral_code else None
    known = await view.customer(uow, customer_id)
    customer = CustomerRow(
        customer_id=customer_id,
        registered_at=event.registered_at if known is None else known.registered_at,
        locale=event.locale,
        email_hash=programme.email_hash(str(event.email)),
        disposable_email=programme.is_disposable(str(event.email)),
        ip_hash=programme.hashed(str(event.ip_address) if event.ip_address else None),
        device_hash=programme.hashed(event.device_id),
        signup_code=(known.signup_code if known else None) or signup_code,
    )
    if known is None:
        uow.insert(Customer, **customer.values())
    else:
        uow.upsert(Customer, customer.values(), key=("customer_id",))
    view.customer_registered(customer)
    if customer.signup_code:  # if the code is not issued yet, the registration waits for it
        use = Parked(customer_id, "registration", customer.registered_at, None)
        view.code_used(customer.signup_code, use)
    if await view.customer_code(uow, customer_id) is None:
        code = await issue_code(uow, customer_id, event.first_name, programme)
        if view.may_have_parked(code):
            await attribute_parked(uow, code, programme)
    if signup_code:
        await attribute(
            uow,
            friend_id=customer_id,
            code=signup_code,
            source="registration",
            at=event.registered_at,
            order_id=None,
            programme=programme,
        )
    await settle_friend(uow, customer_id, programme)  # it may have waited for the registration


async def on_order_completed(
    event: OrderCompletedV1, uow: UnitOfWork[BatchView], *, programme: Programme
) -> None:
    """A code at checkout attributes the friend; the friend's first order decides the referral."""
    view = uow.view
    if event.customer_id in view.erased or await view.order(uow, event.order_id) is not None:
        return  # forgotten, or recorded already
    checkout_code = normalise_code(event.referral_code) if event.referral_code else None
    order = OrderFacts(
        order_id=event.order_id,
        completed_at=event.completed_at,
        amount=event.total.amount,
        currency=event.total.currency,
        payment_fingerprint=event.payment_fingerprint,
    )
    uow.insert(
        Order,
        order_id=order.order_id,
        customer_id=event.customer_id,
        amount=order.amount,
        currency=order.currency,
        checkout_code=checkout_code,
        payment_fingerprint=order.payment_fingerprint,
        completed_at=order.completed_at,
    )
    view.order_recorded(event.customer_id, order)
    if checkout_code:  # if the code is not issued yet, the order waits for it
        use = Parked(event.customer_id, "checkout", order.completed_at, order.order_id)
        view.code_used(checkout_code, use)
        await attribute(
            uow,
            friend_id=event.customer_id,
            code=checkout_code,
            source="checkout",
            at=event.completed_at,
            order_id=event.order_id,
            programme=programme,
        )
    await settle_friend(uow, event.customer_id, programme)


async def on_order_refunded(
    event: OrderRefundedV1, uow: UnitOfWork[BatchView], *, programme: Programme
) -> None:
    """A refund of a qualifying order inside the hold may undo the referral; a refund before its
    order is kept and counted when the order arrives."""
    view = uow.view
    if event.customer_id in view.erased or event.refund_id in view.refunds:
        return  # forgotten, or recorded already
    order = await view.order(uow, event.order_id)
    if order is not None and order.currency != event.amount.currency:
        raise EventRejected(
            "refund_currency_mismatch",
            f"refund in {event.amount.currency} of order {event.order_id} in {order.currency}",
        )
    uow.insert(
        Refund,
        refund_id=event.refund_id,
        order_id=event.order_id,
        customer_id=event.customer_id,
        amount=event.amount.amount,
        currency=event.amount.currency,
        refunded_at=event.refunded_at,
    )
    view.refund_recorded(event.refund_id, event.order_id, event.amount.amount)
    await reconsider_after_refund(uow, event.order_id, event.refunded_at, programme)


async def on_customer_erased(
    event: CustomerErasedV1, uow: UnitOfWork[BatchView], *, programme: Programme
) -> None:
    """Forget the customer; their referrals keep counting under a pseudonym. The batch's rows
    are written before (`reads_database`); what the view held of them is renamed or gone in the
    tables, so the view is read again for the rest of the batch."""
    await forget_customer(uow.session, event.customer_id)
    uow.view = await load_batch_view(uow.session, uow.view.events, programme=programme)
    log.info("customer_erased")


def build_handlers(programme: Programme) -> EventHandlers[BatchView]:
    """The referrals handlers, bound to the programme, over one view per batch."""
    handlers = EventHandlers(load_view=partial(load_batch_view, programme=programme))
    handlers.on(CustomerRegisteredV1)(partial(on_customer_registered, programme=programme))
    handlers.on(OrderCompletedV1)(partial(on_order_completed, programme=programme))
    handlers.on(OrderRefundedV1)(partial(on_order_refunded, programme=programme))
    handlers.on(CustomerErasedV1, reads_database=True)(partial(on_customer_erased, programme=programme))
    return handlers
