"""Handlers of the rewards service: one function per consumed event."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from sqlalchemy import select, update
from wom_chassis import EventHandlers, EventRejected, UnitOfWork, get_logger, upsert, utcnow
from wom_contracts import (
    CaseResolvedV1,
    CustomerErasedV1,
    CustomerRegisteredV1,
    OrderCompletedV1,
    OrderRefundedV1,
    ReferralQualifiedV1,
    ReferralReversedV1,
    RewardGrantedV1,
)

from rewards.domain.balances import POINTS
from rewards.domain.earning import expiry_date, points_for_order, release_date
from rewards.domain.refunds import clawback_points, net_amount
from rewards.domain.tiers import next_tier
from rewards.erasure import forget_customer
from rewards.grants import grant_compensation, grant_referral_reward, referral_withheld_reason
from rewards.ledger import (
    add_entry,
    balance_of,
    balances_of,
    erased_among,
    is_erased,
    revoke,
    withhold,
)
from rewards.models import (
    Customer,
    LedgerEntry,
    Order,
    Referral,
    Refund,
    WithheldReward,
)
from rewards.order_batch import OrderBatch, load_order_batch
from rewards.refund_chain import EarnRef, claw_back, claw_back_refunds, clawed_back, refund_reason
from rewards.rules import Rules
from rewards.tiering import apply_tier_step, reevaluate_tier

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


async def on_order_completed(event: OrderCompletedV1, uow: UnitOfWork, *, rules: Rules) -> None:
    """Points for every purchase, pending for the return window; refunds that came before the
    order are applied now; the customer's tier follows their revenue."""
    batch: OrderBatch = uow.preloaded
    if event.customer_id in batch.erased:
        log.info("event_for_erased_customer_ignored", order_id=event.order_id)
        return
    if event.order_id in batch.known_orders:
        log.info("order_already_recorded", order_id=event.order_id)
        return
    batch.known_orders.add(event.order_id)
    account = batch.accounts[event.customer_id]
    total = event.total
    refunds = batch.take_parked_refunds(event)
    refunded = sum((refund.amount for refund in refunds), Decimal(0))
    net = net_amount(total.amount, refunded)
    revenue = rules.in_reporting_currency(net, total.currency) or Decimal(0)
    uow.insert(
        Order,
        order_id=event.order_id,
        customer_id=event.customer_id,
        currency=total.currency,
        total=total.amount,
        refunded=refunded,
        revenue=revenue,
        completed_at=event.completed_at,
        source_event_id=uow.event_id,
    )
    earning = points_for_order(total.amount, total.currency, account.tier.tier, rules.earning)
    if earning.points > 0:
        earn = add_entry(
            uow,
            customer_id=event.customer_id,
            kind="earn",
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
                reward_id=earn["id"],
                kind="earn",
                status="pending",
                points=earning.points,
                reason=earning.reason,
                source_event_id=uow.event_id,
                order_id=event.order_id,
                hold_until=earn["hold_until"],
                expires_at=earn["expires_at"],
                balance=account.balances.to_event(),
                occurred_at=earn["created_at"],
            )
        )
        claw_back_refunds(uow, EarnRef.of(earn), earning.points, refunds, total.amount, account.balances)
    else:
        log.info("no_points_for_order", order_id=event.order_id, reason=earning.reason)
    if refunds:
        await uow.session.execute(
            update(Refund)
            .where(Refund.refund_id.in_([refund.refund_id for refund in refunds]))
            .values(applied_at=utcnow())
        )
    account.revenue += revenue
    account.orders += 1 if net > 0 else 0
    now = utcnow()
    step = next_tier(
        account.tier,
        revenue=account.revenue,
        orders=account.orders,
        threshold=batch.ranking.threshold,
        now=now,
        rules=rules.tiers,
    )
    await apply_tier_step(
        uow,
        event.customer_id,
        account.tier,
        step,
        revenue=account.revenue,
        ranking=batch.ranking,
        now=now,
        rules=rules,
    )
    account.tier = step.state


async def on_order_refunded(event: OrderRefundedV1, uow: UnitOfWork, *, rules: Rules) -> None:
    """Claw back the refunded share of the order's points (never more than was granted); a
    refund that comes before its order waits for it. The customer's tier follows."""
    session = uow.session
    if await is_erased(session, event.customer_id):
        log.info("event_for_erased_customer_ignored", refund_id=event.refund_id)
        return
    if await session.get(Refund, event.refund_id) is not None:
        log.info("refund_already_recorded", refund_id=event.refund_id)
        return
    order = await session.get(Order, event.order_id)
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
    session.add(
        Refund(
            refund_id=event.refund_id,
            order_id=event.order_id,
            customer_id=event.customer_id,
            currency=event.amount.currency,
            amount=event.amount.amount,
            refunded_at=event.refunded_at,
            source_event_id=uow.event_id,
            applied_at=None if order is None else utcnow(),
        )
    )
    if order is None:
        log.info("refund_parked_until_its_order_arrives", refund_id=event.refund_id, order_id=event.order_id)
        return
    order.refunded += event.amount.amount
    net = net_amount(order.total, order.refunded)
    order.revenue = rules.in_reporting_currency(net, order.currency) or Decimal(0)
    earn = await session.scalar(select(LedgerEntry).where(LedgerEntry.once_key == f"earn:{order.order_id}"))
    if earn is not None and earn.status != "revoked":
        clawed = await clawed_back(session, earn.id)
        points = clawback_points(int(earn.amount), order.total, order.refunded, clawed)
        if points:
            balances = await balance_of(session, event.customer_id)
            reason = refund_reason(order.refunded, order.total)
            claw_back(
                uow,
                earn=EarnRef.of(earn),
                points=points,
                refund_id=event.refund_id,
                reason=reason,
                balances=balances,
            )
    await reevaluate_tier(uow, event.customer_id, rules)


async def on_referral_qualified(event: ReferralQualifiedV1, uow: UnitOfWork, *, rules: Rules) -> None:
    """Reward both sides, pending until the referral's hold ends, unless a cap or the
    programme budget withholds a side; a referral already reversed is rewarded with nothing."""
    session = uow.session
    referral = await session.get(Referral, event.referral_id)
    if referral is not None and referral.qualified_at is not None:
        log.info("referral_already_qualified", referral_id=event.referral_id)
        return
    sides = (
        ("advocate", event.advocate_customer_id, rules.referrals.advocate),
        ("friend", event.customer_id, rules.referrals.friend),
    )
    if referral is None:
        referral = _new_referral(uow, event, "qualified")
    referral.order_id = event.order_id
    referral.hold_until = event.hold_until
    referral.qualified_at = event.occurred_at
    erased = await erased_among(session, [event.advocate_customer_id, event.customer_id])
    for side, customer_id, rule in sides:
        kind = f"referral_{side}"
        if customer_id in erased:
            log.info("event_for_erased_customer_ignored", referral_id=event.referral_id, side=side)
            continue
        reason = "referral_reversed" if referral.status == "reversed" else None
        reason = reason or await referral_withheld_reason(session, side, event, rule, rules)
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
        await grant_referral_reward(uow, event, side=side, customer_id=customer_id, rule=rule, rules=rules)
        referral.advocate_rewarded = referral.advocate_rewarded or side == "advocate"
        await uow.flush()  # the other side's budget check counts this reward


def _new_referral(uow: UnitOfWork, event: ReferralQualifiedV1 | ReferralReversedV1, status: str) -> Referral:
    referral = Referral(
        referral_id=event.referral_id,
        advocate_id=event.advocate_customer_id,
        friend_id=event.customer_id,
        order_id=event.order_id,
        status=status,
        advocate_rewarded=False,
    )
    uow.session.add(referral)
    return referral


async def on_referral_reversed(event: ReferralReversedV1, uow: UnitOfWork) -> None:
    """Take both sides' rewards back, released or not; a reversal that comes before the
    qualification is kept, and the qualification then rewards nothing."""
    session = uow.session
    referral = await session.get(Referral, event.referral_id)
    if referral is not None and referral.status == "reversed":
        log.info("referral_already_reversed", referral_id=event.referral_id)
        return
    if referral is None:
        referral = _new_referral(uow, event, "reversed")
        log.info("reversal_parked_until_its_qualification", referral_id=event.referral_id)
    referral.status = "reversed"
    referral.reversed_at = event.occurred_at
    referral.reversal_reason = event.reason
    grants = (
        await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.referral_id == event.referral_id, LedgerEntry.amount > 0)
            .order_by(LedgerEntry.kind)
        )
    ).all()
    balances = await balances_of(session, [grant.customer_id for grant in grants])
    for grant in grants:
        if grant.status != "revoked":
            revoke(uow, grant, reason=event.reason, balances=balances[grant.customer_id])


async def on_case_resolved(event: CaseResolvedV1, uow: UnitOfWork, *, rules: Rules) -> None:
    """Compensation for a resolved case: store credit now, if the monthly budget allows."""
    compensation = event.compensation
    if compensation is None or compensation.amount <= 0:
        return
    session = uow.session
    once_key = f"compensation:{event.case_id}"
    if await is_erased(session, event.customer_id):
        log.info("event_for_erased_customer_ignored", case_id=event.case_id)
        return
    if await session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.once_key == once_key)
    ) or await session.scalar(select(WithheldReward.id).where(WithheldReward.once_key == once_key)):
        log.info("case_already_compensated", case_id=event.case_id)
        return
    await grant_compensation(uow, event, compensation, once_key=once_key, rules=rules)


async def on_customer_registered(event: CustomerRegisteredV1, uow: UnitOfWork) -> None:
    """Keep what the birthday gift needs: the birthday and the time zone."""
    if await is_erased(uow.session, event.customer_id):
        return
    await upsert(
        uow.session,
        Customer,
        {
            "customer_id": event.customer_id,
            "birthday": event.birthday,
            "timezone": event.timezone,
            "tier": "member",
            "updated_at": utcnow(),
        },
        key=["customer_id"],
        update=["birthday", "timezone", "updated_at"],
    )


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork) -> None:
    """Forget the customer: personal data and projections deleted, the ledger kept for
    accounting under a pseudonym that cannot be traced back, later events ignored."""
    await forget_customer(uow.session, event.customer_id)
    log.info("customer_erased")


def build_handlers(rules: Rules) -> EventHandlers:
    """The rewards handlers, bound to their rules."""
    handlers = EventHandlers()
    handlers.on(OrderCompletedV1, preload=partial(load_order_batch, rules=rules))(
        partial(on_order_completed, rules=rules)
    )
    handlers.on(OrderRefundedV1)(partial(on_order_refunded, rules=rules))
    handlers.on(ReferralQualifiedV1)(partial(on_referral_qualified, rules=rules))
    handlers.on(ReferralReversedV1)(on_referral_reversed)
    handlers.on(CaseResolvedV1)(partial(on_case_resolved, rules=rules))
    handlers.on(CustomerRegisteredV1)(on_customer_registered)
    handlers.on(CustomerErasedV1)(on_customer_erased)
    return handlers
