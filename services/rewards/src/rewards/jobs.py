"""Scheduled jobs: release after the hold, expire oldest points first, re-rank tiers, birthdays.

Every job is safe to run twice or on two replicas at once: each "once" is a unique key or a
conditional update, so a repeated run finds nothing left to do.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select, update
from wom_chassis import Service, UnitOfWork, get_logger, upsert, utcnow
from wom_contracts import (
    BIRTHDAY,
    KEY_CLIENT,
    MEMBER,
    POINTS_EXPIRED,
    PointsExpiringV1,
    RewardGrantedV1,
    RewardReleasedV1,
)

from rewards.domain.balances import POINTS
from rewards.domain.birthdays import is_birthday, local_date
from rewards.domain.earning import expiry_date
from rewards.domain.expiry import Debit, Lot, expiring
from rewards.domain.tiers import TierState, next_tier, position_of
from rewards.ledger import add_entry, amount_fields, announce_revoked, balance_of, balances_of, is_anonymous
from rewards.models import Customer, ExpiryReview, LedgerEntry
from rewards.rules import Rules
from rewards.tiering import apply_tier_step, compute_ranking, order_counts, tier_states

__all__ = ["birthday_gifts", "expire_points", "recompute_tiers", "release_due"]

log = get_logger(__name__)
BATCH = 1000


async def release_due(service: Service, *, now: datetime | None = None) -> int:
    """Make rewards whose hold has ended available, together with their clawbacks; announce
    what each grant finally released. Returns how many grants were released."""
    now = now or utcnow()
    async with service.work() as uow:
        session = uow.session
        grant_ids = list(
            await session.scalars(
                select(LedgerEntry.id)
                .where(LedgerEntry.status == "pending", LedgerEntry.hold_until <= now, LedgerEntry.amount > 0)
                .order_by(LedgerEntry.hold_until)
                .limit(BATCH)
            )
        )
        if not grant_ids:
            return 0
        released = set(
            await session.scalars(
                update(LedgerEntry)
                .where(
                    or_(LedgerEntry.id.in_(grant_ids), LedgerEntry.offsets_entry_id.in_(grant_ids)),
                    LedgerEntry.status == "pending",
                )
                .values(status="available", released_at=now)
                .returning(LedgerEntry.id)
                .execution_options(synchronize_session=False)
            )
        )
        entries = (await session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(list(released))))).all()
        net: dict[str, Decimal] = defaultdict(Decimal)
        for entry in entries:
            net[entry.offsets_entry_id or entry.id] += entry.amount
        grants = [entry for entry in entries if entry.id in grant_ids and not is_anonymous(entry.customer_id)]
        balances = await balances_of(session, [grant.customer_id for grant in grants])
        for grant in grants:
            if net[grant.id] <= 0:
                continue  # refunded in full inside the hold: nothing was released
            uow.emit(
                RewardReleasedV1(
                    customer_id=grant.customer_id,
                    reward_id=grant.id,
                    kind=grant.kind,
                    balance=balances[grant.customer_id].to_event(),
                    occurred_at=now,
                    **amount_fields(grant.unit, net[grant.id], grant.coupon_code),
                )
            )
        log.info("rewards_released", grants=len(grants))
        return len(grants)


async def expire_points(service: Service, *, rules: Rules, now: datetime | None = None) -> int:
    """Expire points past their date, oldest first, and warn customers of points that will
    expire soon. Returns how many customers were looked at."""
    now = now or utcnow()
    warn_until = now + timedelta(days=rules.earning.expiry.warn_days_before)
    async with service.work() as uow:
        session = uow.session
        lot_filter = and_(
            LedgerEntry.unit == POINTS,
            LedgerEntry.amount > 0,
            LedgerEntry.status == "available",
            LedgerEntry.expires_at.is_not(None),
        )
        due = or_(
            and_(LedgerEntry.expires_at <= now, ExpiryReview.expired_at.is_(None)),
            and_(LedgerEntry.expires_at <= warn_until, ExpiryReview.warned_at.is_(None)),
        )
        customers = list(
            await session.scalars(
                select(LedgerEntry.customer_id)
                .outerjoin(ExpiryReview, ExpiryReview.entry_id == LedgerEntry.id)
                .where(lot_filter, due)
                .distinct()
                .limit(BATCH)
            )
        )
        for customer_id in customers:
            await _expire_for(uow, customer_id, now=now, warn_until=warn_until)
        return len(customers)


async def _expire_for(
    uow: UnitOfWork[None], customer_id: str, *, now: datetime, warn_until: datetime
) -> None:
    session = uow.session
    entries = (
        await session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.customer_id == customer_id,
                LedgerEntry.unit == POINTS,
                LedgerEntry.status == "available",
            )
        )
    ).all()
    reviews = {
        review.entry_id: review
        for review in await session.scalars(
            select(ExpiryReview).where(ExpiryReview.entry_id.in_([entry.id for entry in entries]))
        )
    }
    kinds = {entry.id: entry.kind for entry in entries}
    lots = [
        Lot(entry.id, int(entry.amount), entry.created_at, entry.expires_at)
        for entry in entries
        if entry.amount > 0 and entry.expires_at is not None
    ]
    debits = [Debit(int(-entry.amount), entry.offsets_entry_id) for entry in entries if entry.amount < 0]
    balances = await balance_of(session, customer_id)
    anonymous = is_anonymous(customer_id)
    for lot, points in expiring(lots, debits, now):
        add_entry(
            uow,
            customer_id=customer_id,
            kind="expire",
            unit=POINTS,
            amount=-points,
            status="available",
            reason=POINTS_EXPIRED,
            once_key=f"expire:{lot.entry_id}",
            offsets_entry_id=lot.entry_id,
        )
        debits.append(Debit(points, lot.entry_id))
        balances.add(POINTS, "available", Decimal(-points))
        announce_revoked(
            uow,
            customer_id=customer_id,
            reward_id=lot.entry_id,
            kind=kinds[lot.entry_id],
            reason=POINTS_EXPIRED,
            balances=balances,
            occurred_at=now,
            points=points,
        )
    soon = [
        (lot, points)
        for lot, points in expiring(lots, debits, warn_until)
        if lot.expires_at > now and (lot.entry_id not in reviews or reviews[lot.entry_id].warned_at is None)
    ]
    if soon and not anonymous:
        uow.emit(
            PointsExpiringV1(
                customer_id=customer_id,
                points=sum(points for _, points in soon),
                expires_at=min(lot.expires_at for lot, _ in soon),
                balance=balances.to_event(),
                occurred_at=now,
            )
        )
    # a lot's unspent points never grow back, so one look inside the window is enough
    warned = {lot.entry_id for lot in lots if lot.expires_at <= warn_until}
    for lot in lots:
        expired = lot.expires_at <= now
        if expired or lot.entry_id in warned:
            values: dict[str, object] = {"entry_id": lot.entry_id}
            values["expired_at" if expired else "warned_at"] = now
            await upsert(session, ExpiryReview, values, key=["entry_id"])
    await uow.flush()


async def recompute_tiers(service: Service, *, rules: Rules, now: datetime | None = None) -> int:
    """Rank everyone by trailing revenue and move customers between tiers (a key client below
    the line keeps the tier through the grace period). Returns how many tiers changed."""
    now = now or utcnow()
    async with service.work() as uow:
        session = uow.session
        ranking, revenues = await compute_ranking(session, now, rules)
        tiered = set(await session.scalars(select(Customer.customer_id).where(Customer.tier != MEMBER)))
        customers = tiered | set(revenues)
        states = await tier_states(session)
        counts = await order_counts(session)
        ordered = sorted((revenue for revenue in revenues.values() if revenue > 0), reverse=True)
        better = {value: index for index, value in reversed(list(enumerate(ordered)))}
        changed = 0
        for customer_id in sorted(customers):
            revenue = revenues.get(customer_id, Decimal(0))
            state = states.get(customer_id, TierState())
            step = next_tier(
                state,
                revenue=revenue,
                orders=counts.get(customer_id, 0),
                threshold=ranking.threshold,
                now=now,
                rules=rules.tiers,
            )
            position = position_of(revenue, better.get(revenue, 0), ranking.ranked_customers)
            apply_tier_step(
                uow,
                customer_id,
                state,
                step,
                revenue=revenue,
                ranking=ranking,
                now=now,
                rules=rules,
                position=position,
            )
            changed += step.changed
        log.info(
            "tiers_recomputed",
            ranked=ranking.ranked_customers,
            key_clients=ranking.key_clients,
            changed=changed,
        )
        return changed


async def birthday_gifts(service: Service, *, rules: Rules, now: datetime | None = None) -> int:
    """Give key clients their birthday points on their birthday, in their time zone, once a
    year. Returns how many gifts were given."""
    points = rules.birthday.key_client_points
    if points <= 0:
        return 0
    now = now or utcnow()
    async with service.work() as uow:
        session = uow.session
        rows = (
            await session.execute(
                select(Customer.customer_id, Customer.birthday, Customer.timezone).where(
                    Customer.tier == KEY_CLIENT, Customer.birthday.is_not(None)
                )
            )
        ).all()
        today = {row.customer_id: local_date(now, row.timezone) for row in rows}
        due = {
            row.customer_id: f"birthday:{row.customer_id}:{today[row.customer_id].year}"
            for row in rows
            if is_birthday(row.birthday, today[row.customer_id])
        }
        given = set(
            await session.scalars(
                select(LedgerEntry.once_key).where(LedgerEntry.once_key.in_(list(due.values())))
            )
        )
        balances = await balances_of(session, list(due))
        gifts = 0
        for customer_id, once_key in sorted(due.items()):
            if once_key in given:
                continue
            entry = add_entry(
                uow,
                customer_id=customer_id,
                kind=BIRTHDAY,
                unit=POINTS,
                amount=points,
                status="available",
                reason="birthday_gift",
                once_key=once_key,
                expires_at=expiry_date(now, rules.earning),
                released_at=now,
            )
            balances[customer_id].add(POINTS, "available", Decimal(points))
            uow.emit(
                RewardGrantedV1(
                    customer_id=customer_id,
                    reward_id=entry["id"],
                    kind=BIRTHDAY,
                    status="available",
                    points=points,
                    reason="birthday_gift",
                    source_event_id=f"birthday:{today[customer_id]}",
                    expires_at=entry["expires_at"],
                    balance=balances[customer_id].to_event(),
                    occurred_at=now,
                )
            )
            gifts += 1
        return gifts
