"""What one batch of events reads, once, and keeps current as its handlers write.

`load_batch_view` reads what every event of the batch needs in a few set-based queries:
erased customers, customers, codes, standing referrals, orders with their refunds, the
referrals that refunds may undo, and the fraud evidence of the advocates whose referrals the
batch may decide (their payment fingerprints, their other friends' fingerprints, their recent
qualified referrals, their chain of advocates). Handlers read it, and every write of the batch
updates what it holds, so an event sees what the events before it in the batch did.

A key the view holds is the truth for the batch. A key it does not hold (a second code
candidate after a collision, the friends that waited for a code issued in the batch, …) is
read on first use after the batch's buffered rows are written (`uow.flush()`), so the database
then answers as the view would, and is held from then on.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, serialise
from wom_chassis.driver import fetch
from wom_chassis.privacy import erased_among
from wom_contracts import CustomerRegisteredV1, Event, OrderCompletedV1, OrderRefundedV1

from referrals import view_reads as reads
from referrals.domain.codes import normalise_code
from referrals.domain.fraud import CHAIN_LIMIT
from referrals.domain.qualification import OrderFacts
from referrals.models import ErasedCustomer, Referral
from referrals.programme import Programme
from referrals.view_rows import REFERRAL_COLUMNS, CustomerRow, Parked, ReferralRow

__all__ = ["BatchView", "load_batch_view"]


@dataclass
class BatchView:
    """Customers, codes, referrals, orders and evidence as the batch's handlers left them."""

    events: Sequence[Event]
    """the batch's events: an erasure reads the view again for them"""
    erased: set[str] = field(default_factory=set)
    """the batch's customers who asked to be forgotten"""
    customers: dict[str, CustomerRow | None] = field(default_factory=dict)
    code_of: dict[str, str | None] = field(default_factory=dict)
    """customer id → their code (None: they have none)"""
    owner_of: dict[str, str | None] = field(default_factory=dict)
    """code → its owner (None: nobody has it)"""
    parked: dict[str, list[Parked]] = field(default_factory=dict)
    """code not issued yet → the registrations and orders that used it"""
    referrals: dict[str, ReferralRow] = field(default_factory=dict)
    """referral id → the one copy of each referral the view holds"""
    standing: dict[str, ReferralRow | None] = field(default_factory=dict)
    """friend id → their standing referral (None: they have none)"""
    decided_for: dict[str, ReferralRow | None] = field(default_factory=dict)
    """order id → the referral that order qualified or sent to review"""
    orders: dict[str, OrderFacts | None] = field(default_factory=dict)
    """order id → the order (None: it has not arrived)"""
    refunded: dict[str, Decimal] = field(default_factory=dict)
    """order id → refunded so far (refunds may come before their order)"""
    refunds: set[str] = field(default_factory=set)
    """refund ids already recorded, among the batch's"""
    orders_of_customer: dict[str, list[str]] = field(default_factory=dict)
    """customer id → all their order ids, earliest first"""
    fingerprints: dict[str, set[str]] = field(default_factory=dict)
    """customer id → the payment fingerprints of their orders"""
    friends_payments: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """advocate id → their standing friends → those friends' payment fingerprints"""
    qualified: dict[str, tuple[datetime, list[tuple[str, datetime]]]] = field(default_factory=dict)
    """advocate id → (since, their referrals qualified since then: id and order time)"""
    above: dict[str, str | None] = field(default_factory=dict)
    """customer id → who referred them (a standing referral not rejected), for customers
    without a held standing referral"""

    # --- customers and codes

    async def customer(self, uow: UnitOfWork[BatchView], customer_id: str) -> CustomerRow | None:
        """The customer, or None while they have not registered."""
        if customer_id not in self.customers:
            rows = await _read(uow, reads.CUSTOMERS, {"ids": [customer_id]})
            self.customers[customer_id] = CustomerRow(*rows[0]) if rows else None
        return self.customers[customer_id]

    def customer_registered(self, customer: CustomerRow) -> None:
        self.customers[customer.customer_id] = customer

    async def code_owner(self, uow: UnitOfWork[BatchView], code: str) -> str | None:
        """Who owns the code, or None while it is not issued."""
        if code not in self.owner_of:
            rows = await _read(uow, reads.CODES_OF, {"ids": [], "codes": [code]})
            self.owner_of[code] = rows[0][1] if rows else None  # (code, customer_id)
        return self.owner_of[code]

    async def customer_code(self, uow: UnitOfWork[BatchView], customer_id: str) -> str | None:
        """The customer's code, or None while they have none."""
        if customer_id not in self.code_of:
            rows = await _read(uow, reads.CODES_OF, {"ids": [customer_id], "codes": []})
            self.code_of[customer_id] = rows[0][0] if rows else None
        return self.code_of[customer_id]

    def code_issued(self, code: str, customer_id: str) -> None:
        self.owner_of[code] = customer_id
        self.code_of[customer_id] = code

    def may_have_parked(self, code: str) -> bool:
        """False only when the view knows that nothing used the code before it was issued."""
        return code not in self.parked or bool(self.parked[code])

    async def parked_on(self, uow: UnitOfWork[BatchView], code: str) -> list[Parked]:
        """The registrations and orders that used `code` before it was issued, oldest first."""
        if code not in self.parked:
            await uow.flush()
            self.parked.update(await reads.parked_on(uow.session, [code]))
        return sorted(self.parked[code], key=lambda parked: parked.key)

    def code_used(self, code: str, use: Parked) -> None:
        """A registration or an order used `code` (issued or not: it waits if it is not)."""
        waiting = self.parked.get(code)
        if waiting is not None and use not in waiting:
            waiting.append(use)

    # --- referrals

    async def standing_referral(self, uow: UnitOfWork[BatchView], friend_id: str) -> ReferralRow | None:
        """The friend's standing referral (first valid code wins), whatever its status."""
        if friend_id not in self.standing:
            rows = await _read(uow, reads.STANDING, {"ids": [friend_id]})
            self.standing[friend_id] = self.adopt(rows[0]) if rows else None
        return self.standing[friend_id]

    async def referral_decided_by(self, uow: UnitOfWork[BatchView], order_id: str) -> ReferralRow | None:
        """The referral the order qualified or sent to review, if it still is."""
        if order_id not in self.decided_for:
            rows = await _read(uow, reads.DECIDED_FOR, {"order_ids": [order_id]})
            self.decided_for[order_id] = self.adopt(rows[0]) if rows else None
        referral = self.decided_for[order_id]
        return referral if referral is not None and referral.status in ("qualified", "review") else None

    async def is_repeated_self_referral(
        self, uow: UnitOfWork[BatchView], friend_id: str, code: str, source: str
    ) -> bool:
        """True when the customer's own code was refused for this source before (rare: read
        from the database each time)."""
        params = {"friend_id": friend_id, "code": code, "source": source}
        return bool(await _read(uow, reads.SELF_REFERRAL, params))

    def save(self, uow: UnitOfWork[BatchView], referral: ReferralRow) -> None:
        """Write the referral as it is now (at the next flush) and hold it."""
        self.referrals[referral.referral_id] = referral
        uow.upsert(Referral, referral.values(), key=("referral_id",))

    def referral_attributed(self, referral: ReferralRow) -> None:
        """Hold a new standing referral; its friend's payments now count for the advocate."""
        friend, advocate = referral.friend_id, referral.advocate_id
        self.standing[friend] = referral
        friends = self.friends_payments.get(advocate)
        if friends is not None:
            if friend in self.fingerprints:
                friends[friend] = set(self.fingerprints[friend])
            else:  # read again when needed
                del self.friends_payments[advocate]

    def referral_decided(self, referral: ReferralRow) -> None:
        """Index a decided referral by its order; count a qualified one for the advocate."""
        if referral.order_id is not None:
            self.decided_for[referral.order_id] = referral
        if referral.status == "qualified" and referral.order_completed_at is not None:
            held = self.qualified.get(referral.advocate_id)
            if held is not None:
                held[1].append((referral.referral_id, referral.order_completed_at))

    def adopt(self, row: tuple[Any, ...]) -> ReferralRow:
        """The view's one copy of the referral read as `row` (its `REFERRAL_COLUMNS`; the first
        read makes it)."""
        referral = self.referrals.get(row[_REFERRAL_ID])
        if referral is None:
            referral = self.referrals[row[_REFERRAL_ID]] = ReferralRow(*row)
        return referral

    # --- orders and refunds

    async def order(self, uow: UnitOfWork[BatchView], order_id: str) -> OrderFacts | None:
        """The order with what was refunded so far, or None while it has not arrived."""
        if order_id not in self.orders or order_id not in self.refunded:
            await self._read_orders(uow, [], [order_id])
        order = self.orders[order_id]
        return None if order is None else replace(order, refunded=self.refunded[order_id])

    async def orders_of(self, uow: UnitOfWork[BatchView], customer_id: str) -> list[OrderFacts]:
        """The customer's orders, earliest first, each with what was refunded so far."""
        if customer_id not in self.orders_of_customer:
            await self._read_orders(uow, [customer_id], [])
        orders = [self.orders[order_id] for order_id in self.orders_of_customer[customer_id]]
        return [replace(o, refunded=self.refunded.get(o.order_id, Decimal(0))) for o in orders if o]

    def order_recorded(self, customer_id: str, order: OrderFacts) -> None:
        order_id, fingerprint = order.order_id, order.payment_fingerprint
        self.orders[order_id] = order
        self.refunded.setdefault(order_id, Decimal(0))
        ids = self.orders_of_customer.get(customer_id)
        if ids is not None:
            bisect.insort(ids, order_id, key=self.order_key)
        if fingerprint is None:
            return
        if customer_id in self.fingerprints:
            self.fingerprints[customer_id].add(fingerprint)
        if customer_id not in self.standing:
            self.friends_payments.clear()  # whose friend they are is not held: read again
            return
        referral = self.standing[customer_id]
        friends = None if referral is None else self.friends_payments.get(referral.advocate_id)
        if friends is not None:
            friends.setdefault(customer_id, set()).add(fingerprint)

    def refund_recorded(self, refund_id: str, order_id: str, amount: Decimal) -> None:
        self.refunds.add(refund_id)
        if order_id in self.refunded:
            self.refunded[order_id] += amount

    def order_key(self, order_id: str) -> tuple[datetime, str]:
        """Orders sort by time, then id."""
        order = self.orders[order_id]
        assert order is not None
        return order.completed_at, order_id

    async def _read_orders(
        self, uow: UnitOfWork[BatchView], customers: list[str], order_ids: list[str]
    ) -> None:
        await uow.flush()
        await reads.read_orders(self, uow.session, customers, order_ids)

    # --- the advocate's side of the evidence

    async def payment_fingerprints(self, uow: UnitOfWork[BatchView], customer_id: str) -> set[str]:
        """The payment fingerprints of the customer's orders."""
        if customer_id not in self.fingerprints:
            rows = await _read(uow, reads.FINGERPRINTS, {"ids": [customer_id]})
            self.fingerprints[customer_id] = {row.payment_fingerprint for row in rows}
        return self.fingerprints[customer_id]

    async def other_friends_payments(
        self, uow: UnitOfWork[BatchView], advocate_id: str, friend_id: str
    ) -> set[str]:
        """The payment fingerprints of the advocate's other standing friends."""
        if advocate_id not in self.friends_payments:
            rows = await _read(uow, reads.FRIENDS_PAYMENTS, {"ids": [advocate_id]})
            self.hold_friends_payments([advocate_id], rows)
        friends = self.friends_payments[advocate_id]
        return {fp for friend, fps in friends.items() if friend != friend_id for fp in fps}

    def hold_friends_payments(self, advocates: list[str], rows: Iterable[Any]) -> None:
        """Hold the advocates' friends' payments as read: (advocate, friend, fingerprint) rows."""
        self.friends_payments.update({a: {} for a in advocates})
        for advocate_id, friend_id, fingerprint in rows:
            self.friends_payments[advocate_id].setdefault(friend_id, set()).add(fingerprint)

    async def qualified_between(
        self, uow: UnitOfWork[BatchView], advocate_id: str, referral_id: str, after: datetime, until: datetime
    ) -> list[datetime]:
        """When the advocate's other qualified referrals (reversed ones too) had their first
        order, for those whose first order came after `after` up to `until`."""
        held = self.qualified.get(advocate_id)
        if held is None or after < held[0]:
            await uow.flush()
            held = (after, (await reads.qualified_since(uow.session, [advocate_id], after))[advocate_id])
            self.qualified[advocate_id] = held
        return [at for other, at in held[1] if other != referral_id and after < at <= until]

    async def advocate_chain(self, uow: UnitOfWork[BatchView], advocate_id: str) -> list[str]:
        """The advocate, the one who referred them, the one who referred that one, and so on."""
        chain = [advocate_id]
        while len(chain) < CHAIN_LIMIT:
            last = chain[-1]
            if not self.knows_referrer(last):
                rows = await _read(uow, reads.ABOVE, {"ids": [last]})
                self.above[last] = rows[0].advocate_id if rows else None
            above = self.referrer(last)
            if above is None or above in chain:
                break
            chain.append(above)
        return chain

    def knows_referrer(self, customer_id: str) -> bool:
        """Whether the view holds who referred the customer."""
        return customer_id in self.standing or customer_id in self.above

    def referrer(self, customer_id: str) -> str | None:
        """Who referred the customer (None: nobody, or their referral was rejected); the view
        must hold it (`knows_referrer`)."""
        if customer_id in self.standing:
            referral = self.standing[customer_id]
            return None if referral is None or referral.status == "rejected" else referral.advocate_id
        return self.above[customer_id]


async def _read(uow: UnitOfWork[BatchView], statement: Any, params: dict[str, Any]) -> list[Any]:
    """A read the view cannot answer: the batch's buffered rows are written first."""
    await uow.flush()
    return await fetch(uow.session, statement, params)


ADVOCATE_LOCK = "wom:referrals:advocate:"
_REFERRAL_ID = REFERRAL_COLUMNS.index("referral_id")


async def load_batch_view(
    session: AsyncSession, events: Sequence[Event], *, programme: Programme
) -> BatchView:
    """The view of `events` (every event type at once): what their handlers read."""
    registrations = [e for e in events if isinstance(e, CustomerRegisteredV1)]
    orders = [e for e in events if isinstance(e, OrderCompletedV1)]
    refunds = [e for e in events if isinstance(e, OrderRefundedV1)]
    ids = list(dict.fromkeys(e.customer_id for e in (*registrations, *orders, *refunds)))
    view = BatchView(events)
    if not ids:
        return view
    view.erased = await erased_among(session, ErasedCustomer, ids)
    live = [customer_id for customer_id in ids if customer_id not in view.erased]
    with_codes: list[CustomerRegisteredV1 | OrderCompletedV1] = [*registrations, *orders]
    coded = [e for e in with_codes if e.referral_code and e.customer_id not in view.erased]
    used = [normalise_code(e.referral_code) for e in coded if e.referral_code]
    first_codes = {
        next(programme.code_candidates(e.customer_id, e.first_name)): e.customer_id
        for e in registrations
        if e.customer_id not in view.erased
    }
    await reads.read_codes(view, session, live, [*used, *first_codes])
    unissued = [code for code in first_codes if view.owner_of[code] is None]
    view.parked = await reads.parked_on(session, unissued) if unissued else {}
    waiting = {use.friend_id for code in unissued for use in view.parked[code]}
    friends = list(dict.fromkeys([*live, *waiting]))
    await reads.read_standing(view, session, friends)
    # who may have a referral decided in this batch, and whose evidence that needs
    may_attribute = waiting | {e.customer_id for e in coded}
    deciding = [c for c in friends if _may_be_decided(view.standing[c], c in may_attribute)]
    advocates = {r.advocate_id for c in deciding if (r := view.standing[c]) is not None}
    # the owner of each code used, or who will most likely own it once they registered
    advocates |= {owner for code in used if (owner := view.owner_of[code] or first_codes.get(code))}
    advocates |= {first_codes[code] for code in unissued if view.parked[code]}
    # an advocate's evidence (referrals qualified lately, friends' payments, the chain above)
    # is read and added to by every friend's order, whichever partition it came from: one
    # process at a time per advocate (WORKERS), after the batch's own keys
    await serialise(session, (ADVOCATE_LOCK + advocate for advocate in advocates))
    await reads.read_customers(view, session, [*friends, *(a for a in advocates if a not in friends)])
    order_ids = [*(e.order_id for e in orders), *(e.order_id for e in refunds)]
    await reads.read_orders(view, session, deciding, order_ids, [e.refund_id for e in refunds])
    if advocates:
        await reads.read_evidence(view, session, sorted(advocates), [e.completed_at for e in orders])
    if refunds:
        await reads.read_decided_for(view, session, [e.order_id for e in refunds])
    return view


def _may_be_decided(standing: ReferralRow | None, uses_a_code: bool) -> bool:
    """A referral waiting for its first order, or a customer who may be attributed now."""
    return standing.status == "attributed" if standing is not None else uses_a_code
