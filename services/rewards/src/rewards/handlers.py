"""Handlers of the rewards service: one function per consumed event, reading the batch's view
and keeping it current (`rewards.batch_view`)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from operator import attrgetter

from wom_chassis import EventHandlers, EventRejected, UnitOfWork, get_logger
from wom_contracts import (
    EARN,
    MEMBER,
    CaseResolvedV1,
    CustomerErasedV1,
    CustomerRegisteredV1,
    OrderCompletedV1,
    OrderRefundedV1,
    ReferralQualifiedV1,
    ReferralReversedV1,
    RewardGrantedV1,
)

from rewards.batch_view import Account, BatchView, load_batch_view, shared_names
from rewards.domain.balances import POINTS
from rewards.domain.earning import expiry_date, points_for_order, release_date
from rewards.domain.refunds import net_amount
from rewards.domain.tiers import Ranking, next_tier
from rewards.erasure import forget_customer, new_pseudonym
from rewards.grants import StoredReferral, grant_compensation, grant_referral_reward
from rewards.ledger import add_entry, revoke, withhold
from rewards.models import Customer, Order, Referral, Refund
from rewards.purchases import StoredOrder, StoredRefund
from rewards.refund_chain import PurchaseGrant, claw_back_refunds, claw_back_share
from rewards.rules import Rules
from rewards.tiering import apply_tier_step

__all__ = [
    "build_handlers",
    "on_case_resolved",
    "on_customer_erased",
    "on_customer_registered",
    "on_order_completed",
    "on_order_refunded",
    "on_referral_qualified",
    "on_referral_reversed",
]

log = get_logger(__name__)
Work = UnitOfWork[BatchView]


async def on_order_completed(event: OrderCompletedV1, uow: Work, *, rules: Rules) -> None:
    """Points for every purchase, pending for the return window; refunds that came before the
    order are applied now; the customer's tier follows their revenue."""
    view = uow.view
    if event.customer_id in view.erased:
        log.info("event_for_erased_customer_ignored", order_id=event.order_id)
        return
    if event.order_id in view.orders:
        log.info("order_already_recorded", order_id=event.order_id)
        return
    account = view.accounts[event.customer_id]
    total = event.total
    refunds = view.take_parked_refunds(event)
    refunded = sum((refund.amount for refund in refunds), Decimal(0))
    net = net_amount(total.amount, refunded)
    revenue = rules.in_reporting_currency(net, total.currency) or Decimal(0)
    order = StoredOrder(
        event.order_id, event.customer_id, total.currency, total.amount, refunded, revenue,
        event.completed_at, uow.event_id,
    )  # fmt: skip
    view.add_order(uow, order)
    _earn_points(event, uow, account, refunds, rules)
    for refund in refunds:
        refund.applied_at = uow.now
        uow.upsert(Refund, refund.row(), key=["refund_id"], update=["applied_at"])
    ranking = view.key_client_ranking(uow)  # an order is judged by the line drawn before it
    view.add_revenue(event.customer_id, account, order, revenue)
    account.orders += 1 if net > 0 else 0
    _follow_tier(uow, event.customer_id, account, ranking, rules)


def _earn_points(
    event: OrderCompletedV1, uow: Work, account: Account, refunds: list[StoredRefund], rules: Rules
) -> None:
    total = event.total
    earning = points_for_order(total.amount, total.currency, account.tier.tier, rules.earning)
    if earning.points <= 0:
        log.debug("no_points_for_order", order_id=event.order_id, reason=earning.reason)
        return
    entry = add_entry(
        uow,
        customer_id=event.customer_id,
        kind=EARN,
        unit=POINTS,
        amount=earning.points,
        status="pending",
        reason=earning.reason,
        once_key=f"earn:{event.order_id}",
        order_id=event.order_id,
        hold_until=release_date(event.completed_at, rules.earning),
        expires_at=expiry_date(event.completed_at, rules.earning),
    )
    account.balances.add(POINTS, "pending", Decimal(earning.points))
    uow.emit(
        RewardGrantedV1(
            customer_id=event.customer_id,
            reward_id=entry["id"],
            kind=EARN,
            status="pending",
            points=earning.points,
            reason=earning.reason,
            source_event_id=uow.event_id,
            order_id=event.order_id,
            hold_until=entry["hold_until"],
            expires_at=entry["expires_at"],
            balance=account.balances.to_event(),
            occurred_at=entry["created_at"],
        )
    )
    grant = uow.view.purchase_grants[event.order_id] = PurchaseGrant.of(entry)
    claw_back_refunds(uow, grant, refunds, total.amount, account.balances)


def _follow_tier(uow: Work, customer_id: str, account: Account, ranking: Ranking, rules: Rules) -> None:
    step = next_tier(
        account.tier,
        revenue=account.revenue,
        orders=account.orders,
        threshold=ranking.threshold,
        now=uow.now,
        rules=rules.tiers,
    )
    apply_tier_step(
        uow,
        customer_id,
        account.tier,
        step,
        revenue=account.revenue,
        ranking=ranking,
        now=uow.now,
        rules=rules,
    )
    account.tier = step.state


async def on_order_refunded(event: OrderRefundedV1, uow: Work, *, rules: Rules) -> None:
    """Claw back the refunded share of the order's points (never more than was granted); a
    refund that comes before its order waits for it. The customer's tier follows."""
    view = uow.view
    if event.customer_id in view.erased:
        log.info("event_for_erased_customer_ignored", refund_id=event.refund_id)
        return
    if event.refund_id in view.refunds:
        log.info("refund_already_recorded", refund_id=event.refund_id)
        return
    order = view.orders.get(event.order_id)
    _check_refund(event, order)
    amount = event.amount
    refund = StoredRefund(
        event.refund_id, event.order_id, event.customer_id, amount.currency, amount.amount, event.refunded_at,
        uow.event_id, None if order is None else uow.now,
    )  # fmt: skip
    view.add_refund(uow, refund)
    if order is None:
        log.info("refund_parked_until_its_order_arrives", refund_id=event.refund_id, order_id=event.order_id)
        return
    account = view.accounts[event.customer_id]
    counted = order.refunded < order.total
    order.refunded += amount.amount
    revenue = rules.in_reporting_currency(net_amount(order.total, order.refunded), order.currency) or Decimal(
        0
    )
    change, order.revenue = revenue - order.revenue, revenue
    uow.upsert(Order, order.row(), key=["order_id"], update=["refunded", "revenue"])
    account.orders -= 1 if counted and order.refunded >= order.total else 0
    grant = view.purchase_grants.get(order.order_id)
    if grant is not None:
        claw_back_share(
            uow, grant, refunded=order.refunded, total=order.total, refund_id=event.refund_id,
            balances=account.balances,
        )  # fmt: skip
    view.add_revenue(event.customer_id, account, order, change)
    # a refund is judged by the line drawn after it
    _follow_tier(uow, event.customer_id, account, view.key_client_ranking(uow), rules)


def _check_refund(event: OrderRefundedV1, order: StoredOrder | None) -> None:
    if order is not None and order.customer_id != event.customer_id:
        raise EventRejected(
            "refund_customer_mismatch",
            f"refund {event.refund_id} is for customer {event.customer_id}, order {order.order_id} "
            f"belongs to another customer",
        )
    if order is not None and order.currency != event.amount.currency:
        raise EventRejected(
            "refund_currency_mismatch",
            f"refund {event.refund_id} is in {event.amount.currency}, "
            f"order {order.order_id} in {order.currency}",
        )


async def on_referral_qualified(event: ReferralQualifiedV1, uow: Work, *, rules: Rules) -> None:
    """Reward both sides, pending until the referral's hold ends, unless a cap or the
    programme budget withholds a side; a referral already reversed is rewarded with nothing."""
    view = uow.view
    referral = view.referrals.get(event.referral_id)
    if referral is not None and referral.qualified_at is not None:
        log.info("referral_already_qualified", referral_id=event.referral_id)
        return
    if referral is None:
        referral = view.referrals[event.referral_id] = _new_referral(event, "qualified", view.erased)
    referral.order_id = event.order_id
    referral.hold_until = event.hold_until
    referral.qualified_at = event.occurred_at
    limits = view.referral_limits
    assert limits is not None  # loaded for every batch with a qualification
    sides = (
        ("advocate", event.advocate_customer_id, rules.referrals.advocate),
        ("friend", event.customer_id, rules.referrals.friend),
    )
    for side, customer_id, rule in sides:
        kind = f"referral_{side}"
        if customer_id in view.erased:
            log.info("event_for_erased_customer_ignored", referral_id=event.referral_id, side=side)
            continue
        reason = "referral_reversed" if referral.status == "reversed" else None
        reason = reason or limits.withheld_reason(side, event, rule, rules)
        if reason is not None:
            withhold(
                uow,
                customer_id=customer_id,
                kind=kind,
                reason=reason,
                points=rule.points,
                credit=rule.credit or rule.coupon,
                referral_id=event.referral_id,
            )
            continue
        balances = view.balances[customer_id]
        grant = grant_referral_reward(
            uow, event, side=side, customer_id=customer_id, rule=rule, rules=rules, balances=balances
        )
        limits.granted(grant, event)
        view.referral_grants.setdefault(event.referral_id, []).append(grant)
        referral.advocate_rewarded = referral.advocate_rewarded or side == "advocate"
    uow.upsert(Referral, referral.row(), key=["referral_id"])


def _new_referral(
    event: ReferralQualifiedV1 | ReferralReversedV1, status: str, erased: set[str]
) -> StoredReferral:
    # a side erased before the referral reached rewards is kept under a pseudonym, as erasure does
    advocate, friend = (
        new_pseudonym() if customer_id in erased else customer_id
        for customer_id in (event.advocate_customer_id, event.customer_id)
    )
    return StoredReferral(event.referral_id, advocate, friend, event.order_id, status)


async def on_referral_reversed(event: ReferralReversedV1, uow: Work) -> None:
    """Take both sides' rewards back, released or not; a reversal that comes before the
    qualification is kept, and the qualification then rewards nothing."""
    view = uow.view
    referral = view.referrals.get(event.referral_id)
    if referral is not None and referral.status == "reversed":
        log.info("referral_already_reversed", referral_id=event.referral_id)
        return
    if referral is None:
        referral = view.referrals[event.referral_id] = _new_referral(event, "reversed", view.erased)
        log.info("reversal_parked_until_its_qualification", referral_id=event.referral_id)
    referral.status = "reversed"
    referral.reversed_at = event.occurred_at
    referral.reversal_reason = event.reason
    uow.upsert(Referral, referral.row(), key=["referral_id"])
    for grant in sorted(view.referral_grants.get(event.referral_id, []), key=attrgetter("kind")):
        if grant.status == "revoked":
            continue
        pending = grant.status == "pending"
        revoke(uow, grant, reason=event.reason, balances=view.balances[grant.customer_id])
        if pending and view.referral_limits is not None:
            view.referral_limits.revoked(grant)


async def on_case_resolved(event: CaseResolvedV1, uow: Work, *, rules: Rules) -> None:
    """Compensation for a resolved case: store credit now, if the monthly budget allows."""
    compensation = event.compensation
    if compensation is None or compensation.amount <= 0:
        return
    view = uow.view
    once_key = f"compensation:{event.case_id}"
    if event.customer_id in view.erased:
        log.info("event_for_erased_customer_ignored", case_id=event.case_id)
        return
    if once_key in view.compensation.settled:
        log.info("case_already_compensated", case_id=event.case_id)
        return
    balances = view.balances[event.customer_id]
    grant_compensation(
        uow, event, compensation, once_key=once_key, rules=rules, budget=view.compensation, balances=balances
    )


async def on_customer_registered(event: CustomerRegisteredV1, uow: Work) -> None:
    """Keep what the birthday gift needs: the birthday and the time zone."""
    if event.customer_id in uow.view.erased:
        return
    uow.upsert(
        Customer,
        {
            "customer_id": event.customer_id,
            "birthday": event.birthday,
            "timezone": event.timezone,
            "tier": MEMBER,
            "updated_at": uow.now,
        },
        key=["customer_id"],
        update=["birthday", "timezone", "updated_at"],
    )


async def on_customer_erased(event: CustomerErasedV1, uow: Work) -> None:
    """Forget the customer: personal data and projections deleted, the ledger kept for
    accounting under a pseudonym that cannot be traced back, later events ignored."""
    pseudonym = await forget_customer(uow.session, event.customer_id)
    uow.view.forget(event.customer_id, pseudonym)
    log.info("customer_erased")


def build_handlers(rules: Rules) -> EventHandlers[BatchView]:
    """The rewards handlers, bound to their rules, and the view they share."""
    handlers: EventHandlers[BatchView] = EventHandlers(
        load_view=partial(load_batch_view, rules=rules), lock_names=shared_names
    )
    handlers.on(OrderCompletedV1)(partial(on_order_completed, rules=rules))
    handlers.on(OrderRefundedV1)(partial(on_order_refunded, rules=rules))
    handlers.on(ReferralQualifiedV1)(partial(on_referral_qualified, rules=rules))
    handlers.on(ReferralReversedV1)(on_referral_reversed)
    handlers.on(CaseResolvedV1)(partial(on_case_resolved, rules=rules))
    handlers.on(CustomerRegisteredV1)(on_customer_registered)
    # the erasure rewrites and deletes rows in the database: the batch's rows so far are written first
    handlers.on(CustomerErasedV1, reads_database=True)(on_customer_erased)
    return handlers
