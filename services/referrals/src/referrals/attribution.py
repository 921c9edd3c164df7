"""Codes and attribution: every customer gets a code; a code attributes a friend to its owner."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from wom_chassis import UnitOfWork, new_id
from wom_contracts import CodeIssuedV1, ReferralAttributedV1

from referrals.batch_view import BatchView
from referrals.decisions import reject, settle
from referrals.domain.sharing import share_link
from referrals.models import ReferralCode
from referrals.programme import Programme
from referrals.view_rows import ReferralRow

__all__ = ["attribute", "attribute_parked", "issue_code"]


async def issue_code(
    uow: UnitOfWork[BatchView], customer_id: str, first_name: str | None, programme: Programme
) -> str:
    """The customer's code: the first candidate not taken by anyone else; announced with its
    share link."""
    view = uow.view
    for candidate in programme.code_candidates(customer_id, first_name):
        if await view.code_owner(uow, candidate) is None:
            code = candidate
            break
    uow.insert(ReferralCode, code=code, customer_id=customer_id, issued_at=uow.now)
    view.code_issued(code, customer_id)
    uow.emit(
        CodeIssuedV1(
            customer_id=customer_id,
            code=code,
            share_url=share_link(programme.settings.referrals_public_url, code),
            occurred_at=uow.now,
        )
    )
    return code


async def attribute(
    uow: UnitOfWork[BatchView],
    *,
    friend_id: str,
    code: str,
    source: Literal["registration", "checkout"],
    at: datetime,
    order_id: str | None,
    programme: Programme,
) -> ReferralRow | None:
    """Attribute the friend to the code's owner unless the friend already has a standing
    attribution (first valid code wins). A code not known yet stays parked with the
    registration or order and is applied when the code is issued."""
    view = uow.view
    advocate_id = await view.code_owner(uow, code)
    if advocate_id is None:
        return None  # it waits for the code (BatchView.code_used)
    if await view.standing_referral(uow, friend_id) is not None:
        return None  # the first valid code stands
    own_code = advocate_id == friend_id
    if own_code and await view.is_repeated_self_referral(uow, friend_id, code, source):
        return None  # the same self-referral announced again
    referral = ReferralRow(
        referral_id=new_id(),
        friend_id=friend_id,
        advocate_id=advocate_id,
        standing_for=None,
        code=code,
        source=source,
        attributed_at=at,
        attributing_order_id=order_id,
        status="attributed",
    )
    if own_code and programme.rules.fraud.self_referral_same_customer.action == "reject":
        # an own code never stands in the way of a friend's valid code that comes later
        reject(uow, referral, "self_referral_same_customer", "the customer used their own code")
        view.save(uow, referral)
        return referral
    referral.standing_for = friend_id
    view.referral_attributed(referral)
    view.save(uow, referral)
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
    return referral


async def attribute_parked(uow: UnitOfWork[BatchView], code: str, programme: Programme) -> None:
    """Apply a newly issued code to the registrations and orders that used it before it was
    known (events about different customers arrive in any order), then decide what can be."""
    for parked in await uow.view.parked_on(uow, code):
        referral = await attribute(
            uow,
            friend_id=parked.friend_id,
            code=code,
            source=parked.source,
            at=parked.at,
            order_id=parked.order_id,
            programme=programme,
        )
        if referral is not None and referral.status == "attributed":
            await settle(uow, referral, programme)
