"""Erasure: personal data gone, counts kept under a pseudonym that cannot be traced back."""

from __future__ import annotations

import os

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.privacy import remember_erased

from referrals.models import Click, Customer, ErasedCustomer, Order, Referral, ReferralCode, Refund

__all__ = ["ERASED_PREFIX", "forget_customer"]

ERASED_PREFIX = "erased-"


async def forget_customer(session: AsyncSession, customer_id: str) -> None:
    """Delete the customer's hashes, locale and payment fingerprints; rename them and their code
    (which carries their first name) to random pseudonyms everywhere, so clicks, referrals and
    referred revenue still count; drop operators' notes about their referrals."""
    pseudonym = f"{ERASED_PREFIX}{os.urandom(8).hex()}"
    code = await session.scalar(select(ReferralCode.code).where(ReferralCode.customer_id == customer_id))
    if code is not None:
        new_code = pseudonym.upper()
        await session.execute(
            update(ReferralCode).where(ReferralCode.code == code).values(code=new_code, customer_id=pseudonym)
        )
        for model, column in ((Click, Click.code), (Referral, Referral.code)):
            await session.execute(update(model).where(column == code).values(code=new_code))
        await session.execute(update(Order).where(Order.checkout_code == code).values(checkout_code=new_code))
        await session.execute(
            update(Customer).where(Customer.signup_code == code).values(signup_code=new_code)
        )
    await session.execute(update(Click).where(Click.advocate_id == customer_id).values(advocate_id=pseudonym))
    involved = (Referral.friend_id == customer_id) | (Referral.advocate_id == customer_id)
    await session.execute(update(Referral).where(involved).values(note=None))
    await session.execute(
        update(Referral).where(Referral.friend_id == customer_id).values(friend_id=pseudonym)
    )
    await session.execute(
        update(Referral).where(Referral.standing_for == customer_id).values(standing_for=pseudonym)
    )
    await session.execute(
        update(Referral).where(Referral.advocate_id == customer_id).values(advocate_id=pseudonym)
    )
    await session.execute(
        update(Order)
        .where(Order.customer_id == customer_id)
        .values(customer_id=pseudonym, payment_fingerprint=None)
    )
    await session.execute(
        update(Refund).where(Refund.customer_id == customer_id).values(customer_id=pseudonym)
    )
    await session.execute(delete(Customer).where(Customer.customer_id == customer_id))
    await remember_erased(session, ErasedCustomer, customer_id)
