"""What the batch's view reads: the statements, each built once (building one costs more than
the database takes to run it) and run on the session's connection without the ORM, and the
set-based reads of a batch that fill a `BatchView` (one query per table and purpose)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import BindParameter, CompoundSelect, bindparam, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.driver import fetch

from referrals.domain.analytics import QUALIFIED_STATUSES
from referrals.domain.fraud import CHAIN_LIMIT
from referrals.domain.qualification import OrderFacts
from referrals.models import Customer, Order, Referral, ReferralCode, Refund
from referrals.view_rows import REFERRAL_COLUMNS, CustomerRow, Parked

if TYPE_CHECKING:
    from referrals.batch_view import BatchView

__all__ = [
    "ABOVE",
    "CODES_OF",
    "CUSTOMERS",
    "DECIDED_FOR",
    "FINGERPRINTS",
    "FRIENDS_PAYMENTS",
    "ORDERS",
    "PARKED",
    "REFUNDS",
    "SELF_REFERRAL",
    "STANDING",
    "parked_on",
    "qualified_since",
    "read_chains",
    "read_codes",
    "read_customers",
    "read_decided_for",
    "read_evidence",
    "read_orders",
    "read_standing",
]


WEEK = timedelta(days=7)


_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_CODES: BindParameter[list[str]] = bindparam("codes", expanding=True)
_ORDER_IDS: BindParameter[list[str]] = bindparam("order_ids", expanding=True)
_CUSTOMER_COLUMNS = [Customer.__table__.c[name] for name in CustomerRow.__slots__]
CUSTOMERS = select(*_CUSTOMER_COLUMNS).where(Customer.customer_id.in_(_IDS))
CODES_OF = select(ReferralCode.code, ReferralCode.customer_id).where(
    or_(ReferralCode.customer_id.in_(_IDS), ReferralCode.code.in_(_CODES))
)
_STANDING_FOR, _ORDER_ID = REFERRAL_COLUMNS.index("standing_for"), REFERRAL_COLUMNS.index("order_id")
_REFERRALS = select(*(Referral.__table__.c[name] for name in REFERRAL_COLUMNS))
STANDING = _REFERRALS.where(Referral.standing_for.in_(_IDS))
DECIDED_FOR = _REFERRALS.where(
    Referral.order_id.in_(_ORDER_IDS), Referral.status.in_(("qualified", "review"))
)
ORDERS = select(
    Order.order_id,
    Order.customer_id,
    Order.amount,
    Order.currency,
    Order.payment_fingerprint,
    Order.completed_at,
).where(or_(Order.customer_id.in_(_IDS), Order.order_id.in_(_ORDER_IDS)))
REFUNDS = select(Refund.refund_id, Refund.order_id, Refund.amount).where(
    or_(Refund.order_id.in_(_ORDER_IDS), Refund.refund_id.in_(bindparam("refund_ids", expanding=True)))
)
FINGERPRINTS = (
    select(Order.customer_id, Order.payment_fingerprint)
    .where(Order.customer_id.in_(_IDS), Order.payment_fingerprint.is_not(None))
    .distinct()
)
FRIENDS_PAYMENTS = (
    select(Referral.advocate_id, Referral.friend_id, Order.payment_fingerprint)
    .join(Order, Order.customer_id == Referral.friend_id)
    .where(
        Referral.advocate_id.in_(_IDS),
        Referral.standing_for.is_not(None),
        Order.payment_fingerprint.is_not(None),
    )
    .distinct()
)
# the status is checked on the rows read: a condition on it has SQLite scan every qualified
# referral by the status index instead of the advocate's by theirs
_DECIDED_SINCE = select(
    Referral.advocate_id, Referral.referral_id, Referral.order_completed_at, Referral.status
).where(
    Referral.advocate_id.in_(_IDS),
    Referral.order_completed_at > bindparam("since", type_=Referral.order_completed_at.type),
)
ABOVE = select(Referral.standing_for, Referral.advocate_id).where(
    Referral.standing_for.in_(_IDS), Referral.status != "rejected"
)
_PARKED_ON: BindParameter[list[str]] = bindparam("codes", expanding=True)
PARKED: CompoundSelect[Any] = union_all(
    select(
        Customer.signup_code.label("code"),
        Customer.customer_id,
        Customer.registered_at.label("at"),
        null().label("order_id"),
    ).where(Customer.signup_code.in_(_PARKED_ON)),
    select(Order.checkout_code, Order.customer_id, Order.completed_at, Order.order_id).where(
        Order.checkout_code.in_(_PARKED_ON)
    ),
)
SELF_REFERRAL = select(Referral.referral_id).where(
    Referral.friend_id == bindparam("friend_id"),
    Referral.code == bindparam("code"),
    Referral.source == bindparam("source"),
)


async def qualified_since(
    session: AsyncSession, advocates: list[str], since: datetime
) -> dict[str, list[tuple[str, datetime]]]:
    """Each advocate's referrals that qualified (reversed ones too) with a first order after
    `since`: their ids and order times."""
    qualified: dict[str, list[tuple[str, datetime]]] = {a: [] for a in advocates}
    for advocate_id, referral_id, at, status in await fetch(
        session, _DECIDED_SINCE, {"ids": advocates, "since": since}
    ):
        if status in QUALIFIED_STATUSES:
            qualified[advocate_id].append((referral_id, at))
    return qualified


async def read_codes(view: BatchView, session: AsyncSession, ids: list[str], codes: list[str]) -> None:
    """The codes of the customers `ids` and the owners of `codes`."""
    view.code_of = dict.fromkeys(ids)
    view.owner_of = dict.fromkeys(codes)
    for code, owner in await fetch(session, CODES_OF, {"ids": ids, "codes": codes}):
        view.owner_of[code] = owner
        if owner in view.code_of:
            view.code_of[owner] = code


async def read_standing(view: BatchView, session: AsyncSession, ids: list[str]) -> None:
    """The standing referrals of the friends `ids`."""
    view.standing = dict.fromkeys(ids)
    for row in await fetch(session, STANDING, {"ids": ids}):
        view.standing[row[_STANDING_FOR]] = view.adopt(row)


async def read_customers(view: BatchView, session: AsyncSession, ids: list[str]) -> None:
    """The customers `ids` (None: not registered)."""
    view.customers.update(dict.fromkeys(ids))
    for row in await fetch(session, CUSTOMERS, {"ids": ids}):
        customer = CustomerRow(*row)
        view.customers[customer.customer_id] = customer


def _fingerprint(order: OrderFacts | None) -> str | None:
    return None if order is None else order.payment_fingerprint


async def read_orders(
    view: BatchView,
    session: AsyncSession,
    customers: list[str],
    order_ids: list[str],
    refund_ids: Iterable[str] = (),
) -> None:
    """All orders of `customers`, the orders `order_ids`, the refunds of all of them, and
    which of `refund_ids` are already recorded."""
    rows = await fetch(session, ORDERS, {"ids": customers, "order_ids": order_ids})
    for order_id in order_ids:
        view.orders.setdefault(order_id, None)
    complete: dict[str, list[str]] = {customer_id: [] for customer_id in customers}
    for order_id, customer_id, amount, currency, fingerprint, completed_at in rows:
        if view.orders.get(order_id) is None:
            view.orders[order_id] = OrderFacts(
                order_id=order_id,
                completed_at=completed_at,
                amount=Decimal(amount),
                currency=currency,
                payment_fingerprint=fingerprint,
            )
        if customer_id in complete:
            complete[customer_id].append(order_id)
    for customer_id, ids in complete.items():
        view.orders_of_customer[customer_id] = sorted(ids, key=view.order_key)
        view.fingerprints[customer_id] = {
            fp for order_id in ids if (fp := _fingerprint(view.orders[order_id])) is not None
        }
    unread = [order_id for order_id in view.orders if order_id not in view.refunded]
    params = {"order_ids": unread, "refund_ids": list(refund_ids)}
    totals = dict.fromkeys(unread, Decimal(0))
    for refund_id, order_id, amount in await fetch(session, REFUNDS, params):
        view.refunds.add(refund_id)
        if order_id in totals:
            totals[order_id] += Decimal(amount)
    view.refunded.update(totals)


async def read_evidence(
    view: BatchView, session: AsyncSession, advocates: list[str], order_times: list[datetime]
) -> None:
    """The advocates' payment fingerprints, their friends', their referrals qualified in the
    week before the earliest order the batch holds or brings, and the chains above them."""
    unread = [a for a in advocates if a not in view.fingerprints]
    if unread:
        view.fingerprints.update({a: set() for a in unread})
        for customer_id, fingerprint in await fetch(session, FINGERPRINTS, {"ids": unread}):
            view.fingerprints[customer_id].add(str(fingerprint))
    rows = await fetch(session, FRIENDS_PAYMENTS, {"ids": advocates})
    view.hold_friends_payments(advocates, rows)
    times = [*order_times, *(order.completed_at for order in view.orders.values() if order is not None)]
    if times:
        since = min(times) - WEEK
        qualified = await qualified_since(session, advocates, since)
        view.qualified.update({a: (since, qualified[a]) for a in advocates})
    await read_chains(view, session, advocates)


async def read_decided_for(view: BatchView, session: AsyncSession, order_ids: list[str]) -> None:
    """The referrals that the orders `order_ids` qualified or sent to review (refunds may undo
    them)."""
    view.decided_for.update(dict.fromkeys(order_ids))
    for row in await fetch(session, DECIDED_FOR, {"order_ids": order_ids}):
        view.decided_for[row[_ORDER_ID]] = view.adopt(row)


async def parked_on(session: AsyncSession, codes: list[str]) -> dict[str, list[Parked]]:
    """The registrations and orders that used each of `codes` (not issued yet)."""
    parked: dict[str, list[Parked]] = {code: [] for code in codes}
    for code, customer_id, at, order_id in await fetch(session, PARKED, {"codes": codes}):
        source: Literal["registration", "checkout"] = "registration" if order_id is None else "checkout"
        parked[code].append(Parked(customer_id, source, at, order_id))
    return parked


async def read_chains(view: BatchView, session: AsyncSession, advocates: list[str]) -> None:
    """Who referred the advocates, who referred those, and so on: a query per level of the
    chains that is not held already (none, most batches)."""
    frontier, seen = set(advocates), set(advocates)
    for _ in range(CHAIN_LIMIT):
        unknown = [c for c in frontier if not view.knows_referrer(c)]
        if unknown:
            view.above.update(dict.fromkeys(unknown))
            for customer_id, advocate_id in await fetch(session, ABOVE, {"ids": unknown}):
                view.above[str(customer_id)] = advocate_id
        frontier = {up for c in frontier if (up := view.referrer(c)) is not None} - seen
        if not frontier:
            return
        seen |= frontier
