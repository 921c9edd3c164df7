"""What a run of registrations or orders reads once, kept current by the handlers as they write.

The view is a cache in front of the tables for the run's customers and codes: what the preload
read is answered from memory; anything else (a friend found through a parked code, a second
code candidate) is read from the database on first use and remembered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import BindParameter, bindparam, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.privacy import erased_among
from wom_contracts import CustomerRegisteredV1, OrderCompletedV1

from referrals.domain.codes import normalise_code
from referrals.models import Customer, ErasedCustomer, Order, Referral, ReferralCode
from referrals.programme import Programme

__all__ = ["BatchView", "load_orders", "load_registrations"]

# built once: building a statement costs more than SQLite takes to run it
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_CODES: BindParameter[list[str]] = bindparam("codes", expanding=True)
_CUSTOMERS = select(Customer).where(Customer.customer_id.in_(_IDS))
_CODES_OF_OWNERS = select(ReferralCode.code, ReferralCode.customer_id).where(
    or_(ReferralCode.customer_id.in_(_IDS), ReferralCode.code.in_(_CODES))
)
_OWNERS = select(ReferralCode.code, ReferralCode.customer_id).where(ReferralCode.code.in_(_CODES))
_USED_BEFORE = union(
    select(Customer.signup_code).where(Customer.signup_code.in_(_CODES)),
    select(Order.checkout_code).where(Order.checkout_code.in_(_CODES)),
)
_KNOWN_ORDERS = select(Order.order_id).where(Order.order_id.in_(bindparam("order_ids", expanding=True)))
_STANDING = select(Referral).where(Referral.standing_for.in_(_IDS))


@dataclass
class BatchView:
    """Customers, code owners and standing referrals as the run's handlers left them."""

    erased: set[str] = field(default_factory=set)
    customers: dict[str, Customer | None] = field(default_factory=dict)
    code_of: dict[str, str | None] = field(default_factory=dict)
    """customer id → their code (None: they have none)"""
    owner_of: dict[str, str | None] = field(default_factory=dict)
    """code → its owner (None: nobody has it)"""
    standing: dict[str, Referral | None] = field(default_factory=dict)
    """friend id → their standing referral (None: they have none)"""
    parked: dict[str, bool] = field(default_factory=dict)
    """code → whether a registration or an order used it before it was known"""
    known_orders: set[str] = field(default_factory=set)

    async def customer(self, session: AsyncSession, customer_id: str) -> Customer | None:
        """The customer, or None while they have not registered."""
        if customer_id not in self.customers:
            self.customers[customer_id] = await session.get(Customer, customer_id)
        return self.customers[customer_id]

    async def code_owner(self, session: AsyncSession, code: str) -> str | None:
        """Who owns the code, or None while it is not issued."""
        if code not in self.owner_of:
            self.owner_of[code] = await session.scalar(
                select(ReferralCode.customer_id).where(ReferralCode.code == code)
            )
        return self.owner_of[code]

    async def customer_code(self, session: AsyncSession, customer_id: str) -> str | None:
        """The customer's code, or None while they have none."""
        if customer_id not in self.code_of:
            self.code_of[customer_id] = await session.scalar(
                select(ReferralCode.code).where(ReferralCode.customer_id == customer_id)
            )
        return self.code_of[customer_id]

    def code_issued(self, code: str, customer_id: str) -> None:
        self.owner_of[code] = customer_id
        self.code_of[customer_id] = code

    async def standing_referral(self, session: AsyncSession, friend_id: str) -> Referral | None:
        """The friend's standing referral (first valid code wins), whatever its status."""
        if friend_id not in self.standing:
            self.standing[friend_id] = await session.scalar(
                select(Referral).where(Referral.standing_for == friend_id)
            )
        return self.standing[friend_id]

    def may_have_parked(self, code: str) -> bool:
        """False only when the preload saw that nothing used the code before it was known."""
        return self.parked.get(code, True)


async def load_registrations(
    session: AsyncSession, events: Sequence[CustomerRegisteredV1], *, programme: Programme
) -> BatchView:
    """The run's erased customers, customers, their codes and the codes they signed up with, the
    code each would be issued first and whether something waits for it, standing referrals."""
    ids = [event.customer_id for event in events]
    signup_codes = [normalise_code(event.referral_code) for event in events if event.referral_code]
    first_candidates = [next(programme.code_candidates(e.customer_id, e.first_name)) for e in events]
    view = BatchView(erased=await erased_among(session, ErasedCustomer, ids))
    view.customers = dict.fromkeys(ids)
    for customer in await session.scalars(_CUSTOMERS, {"ids": ids}):
        view.customers[customer.customer_id] = customer
    codes = [*signup_codes, *first_candidates]
    view.code_of = dict.fromkeys(ids)
    view.owner_of = dict.fromkeys(codes)
    rows = await session.execute(_CODES_OF_OWNERS, {"ids": ids, "codes": codes})
    for code, owner in rows:
        view.owner_of[code] = owner
        if owner in view.code_of:
            view.code_of[owner] = code
    await _load_standing(session, view, ids)
    used_before = set(await session.scalars(_USED_BEFORE, {"codes": first_candidates}))
    view.parked = {code: code in used_before for code in first_candidates}
    return view


async def load_orders(
    session: AsyncSession, events: Sequence[OrderCompletedV1], *, programme: Programme
) -> BatchView:
    """The run's erased customers, known orders, the owners of the codes used at checkout and
    standing referrals (customers are read when a referral is decided: most orders decide none)."""
    ids = [event.customer_id for event in events]
    view = BatchView(erased=await erased_among(session, ErasedCustomer, ids))
    order_ids = [event.order_id for event in events]
    known = await session.scalars(_KNOWN_ORDERS, {"order_ids": order_ids})
    view.known_orders = set(known)
    checkout_codes = [normalise_code(event.referral_code) for event in events if event.referral_code]
    if checkout_codes:
        view.owner_of = dict.fromkeys(checkout_codes)
        rows = await session.execute(_OWNERS, {"codes": checkout_codes})
        for code, owner in rows:
            view.owner_of[code] = owner
    await _load_standing(session, view, ids)
    waiting = [
        referral for referral in view.standing.values() if referral and referral.status == "attributed"
    ]
    if waiting:  # the friends and advocates of the referrals the run may decide
        parties = list({party for r in waiting for party in (r.friend_id, r.advocate_id)})
        view.customers = dict.fromkeys(parties)
        for customer in await session.scalars(_CUSTOMERS, {"ids": parties}):
            view.customers[customer.customer_id] = customer
    return view


async def _load_standing(session: AsyncSession, view: BatchView, ids: list[str]) -> None:
    view.standing = dict.fromkeys(ids)
    for referral in await session.scalars(_STANDING, {"ids": ids}):
        view.standing[str(referral.standing_for)] = referral
