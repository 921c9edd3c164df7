"""The read side of referrals' HTTP API: codes, referrals and the review queue, read from a
session and returned as rows for the routes to shape. The analytics read in `referrals.analytics`;
writes go through `referrals.attribution` (a click) and `referrals.decisions` (a review)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.paging import Page

from referrals.models import Customer, Referral, ReferralCode

__all__ = ["customer_code", "referral_by_id", "referrals_of_customer", "review_page"]


async def customer_code(
    session: AsyncSession, customer_id: str
) -> tuple[ReferralCode | None, Customer | None]:
    """The customer's code (None before one is issued) and the customer (None when never seen)."""
    code = await session.scalar(select(ReferralCode).where(ReferralCode.customer_id == customer_id))
    return code, await session.get(Customer, customer_id)


async def referrals_of_customer(session: AsyncSession, customer_id: str) -> Sequence[Referral]:
    """The referrals the customer made as advocate and the one that brought them, newest first."""
    return (
        await session.scalars(
            select(Referral)
            .where(or_(Referral.advocate_id == customer_id, Referral.friend_id == customer_id))
            .order_by(Referral.attributed_at.desc())
        )
    ).all()


async def referral_by_id(session: AsyncSession, referral_id: str) -> Referral | None:
    """The referral, or None."""
    return await session.get(Referral, referral_id)


async def review_page(session: AsyncSession, page: Page) -> tuple[Sequence[Referral], int]:
    """A page of the referrals waiting for review, oldest order first, and how many wait in all."""
    waiting = Referral.status == "review"
    rows = (
        await session.scalars(
            select(Referral)
            .where(waiting)
            .order_by(Referral.order_completed_at, Referral.referral_id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    total = await session.scalar(select(func.count()).where(waiting))
    return rows, int(total or 0)
