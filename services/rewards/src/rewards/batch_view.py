"""The batch's view: what the events of one transaction read, loaded once for all of them and
kept current by the handlers as they write, so that every event sees what the events before it
did, as it would one transaction at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, get_logger, utcnow
from wom_contracts import (
    CaseResolvedV1,
    Event,
    OrderCompletedV1,
    OrderRefundedV1,
    ReferralQualifiedV1,
    ReferralReversedV1,
)

from rewards.domain.balances import Balances
from rewards.domain.tiers import Ranking, TierState
from rewards.grants import (
    CompensationBudget,
    ReferralLimits,
    StoredReferral,
    compensation_budget,
    referral_limits,
    stored_referrals,
)
from rewards.ledger import Grant, balances_of, erased_among, reward_grants
from rewards.models import Order, Refund
from rewards.purchases import StoredOrder, StoredRefund, stored_orders, stored_refunds
from rewards.refund_chain import PurchaseGrant, purchase_grants
from rewards.rules import Rules
from rewards.tiering import (
    KeyClientLine,
    OrderTotals,
    key_client_line,
    order_totals,
    tier_states,
    window_start,
)

__all__ = ["Account", "BatchView", "load_batch_view"]

log = get_logger(__name__)


@dataclass(slots=True)
class Account:
    """What tiers need of a customer who orders or is refunded in the batch."""

    tier: TierState
    revenue: Decimal  # of the trailing window, in the reporting currency
    orders: int  # not refunded in full
    balances: Balances


@dataclass
class BatchView:
    """What a batch reads: erased customers, balances, and per kind of event its rows."""

    erased: set[str]
    trailing_since: datetime  # the first instant of the key-client ranking's window
    balances: dict[str, Balances] = field(default_factory=dict)
    # orders and refunds
    accounts: dict[str, Account] = field(default_factory=dict)
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    refunds: dict[str, StoredRefund] = field(default_factory=dict)
    parked: dict[str, list[StoredRefund]] = field(default_factory=dict)  # by the order they wait for
    purchase_grants: dict[str, PurchaseGrant] = field(default_factory=dict)  # by order
    line: KeyClientLine | None = None
    # referrals and resolved cases
    referrals: dict[str, StoredReferral] = field(default_factory=dict)
    referral_grants: dict[str, list[Grant]] = field(default_factory=dict)
    referral_limits: ReferralLimits | None = None
    compensation: CompensationBudget = field(default_factory=CompensationBudget)

    def key_client_ranking(self, uow: UnitOfWork[Any]) -> Ranking:
        """The key-client line as the batch's revenue changes so far leave it."""
        assert self.line is not None, "the view of a batch without orders or refunds has no line"
        return self.line.ranking(uow)

    def add_order(self, uow: UnitOfWork[Any], order: StoredOrder) -> None:
        """Record an order."""
        uow.insert(Order, **order.row())
        self.orders[order.order_id] = order

    def add_refund(self, uow: UnitOfWork[Any], refund: StoredRefund) -> None:
        """Record a refund; one without its order waits for it."""
        uow.insert(Refund, **refund.row())
        self.refunds[refund.refund_id] = refund
        if refund.applied_at is None:
            self.parked.setdefault(refund.order_id, []).append(refund)

    def take_parked_refunds(self, event: OrderCompletedV1) -> list[StoredRefund]:
        """The refunds that waited for this order; one that does not match it (another
        customer or currency) stays parked, visible in the refunds table, and is logged."""
        refunds = []
        for refund in self.parked.pop(event.order_id, []):
            if refund.currency != event.total.currency or refund.customer_id != event.customer_id:
                log.error("parked_refund_does_not_match_order", refund_id=refund.refund_id)
                continue
            refunds.append(refund)
        return refunds

    def add_revenue(self, customer_id: str, account: Account, order: StoredOrder, change: Decimal) -> None:
        """An order's revenue changed by `change`: so does the customer's trailing revenue, if
        the order is inside the window."""
        if change and order.completed_at >= self.trailing_since:
            account.revenue += change
            if self.line is not None:
                self.line.revenue_changed(customer_id, account.revenue)

    def forget(self, customer_id: str, pseudonym: str) -> None:
        """The customer was erased: their orders, refunds and tier are gone, later events about
        them are ignored, and what the ledger and the referrals keep of them has the pseudonym."""
        self.erased.add(customer_id)
        self.accounts.pop(customer_id, None)
        if self.line is not None:
            self.line.revenue_changed(customer_id, Decimal(0))
        gone = {order_id for order_id, order in self.orders.items() if order.customer_id == customer_id}
        for order_id in gone:
            del self.orders[order_id]
            self.purchase_grants.pop(order_id, None)
        self.refunds = {key: r for key, r in self.refunds.items() if r.customer_id != customer_id}
        self.parked = {
            order_id: kept
            for order_id, refunds in self.parked.items()
            if (kept := [refund for refund in refunds if refund.customer_id != customer_id])
        }
        if customer_id in self.balances:
            self.balances[pseudonym] = self.balances.pop(customer_id)
        for grants in self.referral_grants.values():
            for grant in grants:
                if grant.customer_id == customer_id:
                    grant.customer_id = pseudonym
        for referral in self.referrals.values():
            if referral.advocate_id == customer_id:
                referral.advocate_id = pseudonym
            if referral.friend_id == customer_id:
                referral.friend_id = pseudonym


REFERRAL_BUDGET_LOCK = "wom:rewards:referral-budget"
COMPENSATION_BUDGET_LOCK = "wom:rewards:compensation-budget"


def shared_names(events: Sequence[Event]) -> set[str]:
    """What a batch's events touch beyond their own customer, locked with their keys where
    several processes consume (`EventHandlers(lock_names=…)`): a referral's advocate (its event
    is keyed by the friend), and the budgets referral rewards and compensation draw on."""
    names: set[str] = set()
    for event in events:
        if isinstance(event, ReferralQualifiedV1 | ReferralReversedV1):
            names.update((event.advocate_customer_id, REFERRAL_BUDGET_LOCK))
        elif isinstance(event, CaseResolvedV1) and event.compensation is not None:
            names.add(COMPENSATION_BUDGET_LOCK)
    return names


async def load_batch_view(session: AsyncSession, events: Sequence[Event], *, rules: Rules) -> BatchView:
    """Everything the batch's events read, one query per kind of row: erased customers, the
    orders and refunds they touch with their customers' accounts and the key-client line, the
    referrals with their rewards and limits, the cases' budget, and everyone's balances."""
    now = utcnow()
    orders = [event for event in events if isinstance(event, OrderCompletedV1)]
    refunds = [event for event in events if isinstance(event, OrderRefundedV1)]
    qualifications = [event for event in events if isinstance(event, ReferralQualifiedV1)]
    referrals: list[ReferralQualifiedV1 | ReferralReversedV1] = [
        event for event in events if isinstance(event, ReferralQualifiedV1 | ReferralReversedV1)
    ]
    purchases: list[OrderCompletedV1 | OrderRefundedV1] = [*orders, *refunds]
    cases = [
        event for event in events if isinstance(event, CaseResolvedV1) and event.compensation is not None
    ]
    everyone = {event.customer_id for event in events} | {event.advocate_customer_id for event in referrals}
    view = BatchView(await erased_among(session, list(everyone)), trailing_since=window_start(now, rules))
    buyers = {event.customer_id for event in purchases} - view.erased
    if orders or refunds:
        view.line = await key_client_line(session, now, rules)
        view.orders = await stored_orders(session, {event.order_id for event in purchases})
        refund_ids = {event.refund_id for event in refunds}
        for refund in await stored_refunds(session, refund_ids, {event.order_id for event in orders}):
            view.refunds[refund.refund_id] = refund
            if refund.applied_at is None:
                view.parked.setdefault(refund.order_id, []).append(refund)
        view.purchase_grants = await purchase_grants(session, {event.order_id for event in refunds})
    if referrals:
        view.referrals = await stored_referrals(session, {event.referral_id for event in referrals})
        reversed_ids = {event.referral_id for event in referrals if isinstance(event, ReferralReversedV1)}
        view.referral_grants = await reward_grants(session, reversed_ids)
    if qualifications:
        view.referral_limits = await referral_limits(session, qualifications, now, rules)
    if cases:
        view.compensation = await compensation_budget(session, cases, now)
    holders = buyers | {event.customer_id for event in cases}
    holders |= {
        customer for event in referrals for customer in (event.customer_id, event.advocate_customer_id)
    }
    holders |= {grant.customer_id for grants in view.referral_grants.values() for grant in grants}
    view.balances = await balances_of(session, holders - view.erased)
    if buyers:
        states = await tier_states(session, buyers)
        totals = await order_totals(session, now, rules, buyers)
        for customer_id in buyers:
            total = totals.get(customer_id) or OrderTotals()
            balances = view.balances[customer_id]
            view.accounts[customer_id] = Account(states[customer_id], total.revenue, total.orders, balances)
    return view
