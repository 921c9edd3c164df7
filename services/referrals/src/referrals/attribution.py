"""Codes and attribution: every customer gets a code; a code attributes a friend to its owner."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from wom_chassis import UnitOfWork, get_logger, new_id, utcnow
from wom_contracts import CodeIssuedV1, ReferralAttributedV1

from referrals.batch_view import BatchView
from referrals.decisions import reject, settle
from referrals.domain.sharing import share_link
from referrals.models import Customer, Order, Referral, ReferralCode
from referrals.programme import Programme

__all__ = ["attribute", "attribute_parked", "issue_code"]

log = get_logger(__name__)


async def issue_code(
    uow: UnitOfWork, view: BatchView, customer_id: str, first_name: str | None, programme: Programme
) -> str:
    """The customer's code: the first candidate not taken by anyone else; announced with its
    share link."""
    for candidate in programme.code_candidates(customer_id, first_name):
        if await view.code_owner(uow.session, candidate) is None:
            code = candidate
            break
    now = utcnow()
    uow.insert(ReferralCode, code=code, customer_id=customer_id, issued_at=now)
    view.code_issued(code, customer_id)
    uow.emit(
        CodeIssuedV1(
            customer_id=customer_id,
            code=code,
            share_url=share_link(programme.settings.referrals_public_url, code),
            occurred_at=now,
        )
    )
    return code


async def attribute(
    uow: UnitOfWork,
    view: BatchView,
    *,
    friend_id: str,
    code: str,
    source: Literal["registration", "checkout"],
    at: datetime,
    order_id: str | None,
    programme: Programme,
) -> Referral | None:
    """Attribute the friend to the code's owner unless the friend already has a standing
    attribution (first valid code wins). A code not known yet stays parked with the
    registration or order and is applied when the code is issued."""
    session = uow.session
    advocate_id = await view.code_owner(session, code)
    if advocate_id is None:
        log.info("referral_code_not_known_yet", code=code, source=source)
        return None
    if await view.standing_referral(session, friend_id) is not None:
        log.info("friend_already_attributed", code=code, source=source)
        return None
    own_code = advocate_id == friend_id
    if own_code and await session.scalar(
        select(Referral.referral_id).where(
            Referral.friend_id == friend_id, Referral.code == code, Referral.source == source
        )
    ):
        return None  # the same self-referral announced again
    referral = Referral(
        referral_id=new_id(),
        friend_id=friend_id,
        advocate_id=advocate_id,
        code=code,
        source=source,
        attributed_at=at,
        attributing_order_id=order_id,
        status="attributed",
    )
    session.add(referral)
    if own_code and programme.rules.fraud.self_referral_same_customer.action == "reject":
        # an own code never stands in the way of a friend's valid code that comes later
        reject(uow, referral, "self_referral_same_customer", "the customer used their own code")
        return referral
    referral.standing_for = friend_id
    view.standing[friend_id] = referral
    uow.emit(
        ReferralAttributedV1(
            customer_id=friend_id,
            referral_id=referral.referral_id,
            advocate_customer_id=advocate_id,
            code=code,
            source=source,
            occurred_at=at,
        )
    )
    log.info("referral_attributed", referral_id=referral.referral_id, source=source)
    return referral


async def attribute_parked(uow: UnitOfWork, view: BatchView, code: str, programme: Programme) -> None:
    """Apply a newly issued code to the registrations and orders that used it before it was
    known (events about different customers arrive in any order), then decide what can be."""
    session = uow.session
    signups = (await session.scalars(select(Customer).where(Customer.signup_code == code))).all()
    checkouts = (
        await session.scalars(
            select(Order).where(Order.checkout_code == code).order_by(Order.completed_at, Order.order_id)
        )
    ).all()
    parked: list[tuple[str, Literal["registration", "checkout"], datetime, str | None]] = [
        (customer.customer_id, "registration", customer.registered_at, None) for customer in signups
    ]
    parked += [(order.customer_id, "checkout", order.completed_at, order.order_id) for order in checkouts]
    for friend_id, source, at, order_id in sorted(parked, key=lambda item: item[2]):
        referral = await attribute(
            uow,
            view,
            friend_id=friend_id,
            code=code,
            source=source,
            at=at,
            order_id=order_id,
            programme=programme,
        )
        if referral is not None and referral.status == "attributed":
            await settle(uow, view, referral, programme)
