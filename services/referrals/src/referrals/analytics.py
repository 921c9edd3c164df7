"""Word-of-mouth analytics read from the referrals tables: queries here, arithmetic in
`referrals.domain.analytics`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, and_, cast, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.reports import Period

from referrals.domain.analytics import (
    QUALIFIED_STATUSES,
    AdvocateStats,
    ChainDepth,
    ClickCount,
    CycleTimes,
    FunnelCounts,
    FunnelDay,
    KFactor,
    ReferralFacts,
    ReferredOrder,
    RefundFacts,
    advocate_funnels,
    chain_depth,
    cycle_times,
    daily_funnel,
    k_factor,
    leaderboard,
    ranked_counts,
    referred_revenue,
    total_revenue,
)
from referrals.models import Click, Order, Referral, ReferralCode, Refund

__all__ = [
    "Rejections",
    "Report",
    "Summary",
    "advocates_report",
    "daily_report",
    "full_report",
    "leaderboard_report",
    "summary_report",
]


@dataclass(frozen=True)
class Rejections:
    """Referrals rejected in the period by reason, and qualified ones reversed by reason."""

    rejected: dict[str, int]
    reversed: dict[str, int]


@dataclass(frozen=True)
class Summary:
    """Everything the analytics report about one period."""

    period: Period
    funnel: FunnelCounts
    k_factor: KFactor
    cycle_times: CycleTimes
    chain_depth: ChainDepth
    rejections: Rejections
    referred_revenue: dict[str, Decimal]


def _utc_day(session: AsyncSession, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, in SQL (SQLite keeps UTC text already)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


async def _clicks(session: AsyncSession, period: Period) -> list[ClickCount]:
    """Clicks per day and code: all of them and distinct visitors (unique clicks)."""
    day = _utc_day(session, Click.clicked_at).label("day")
    rows = await session.execute(
        select(day, Click.advocate_id, func.count(), func.count(distinct(Click.visitor_hash)))
        .where(Click.clicked_at >= period.start, Click.clicked_at < period.end)
        .group_by(day, Click.code, Click.advocate_id)
    )
    return [ClickCount(_as_date(d), advocate, int(n), int(u)) for d, advocate, n, u in rows.all()]


async def _referrals(session: AsyncSession, period: Period) -> list[ReferralFacts]:
    """Standing referrals that signed up, ordered first or qualified in the period."""

    def in_period(column: Any) -> Any:
        return and_(column >= period.start, column < period.end)

    rows = await session.execute(
        select(
            Referral.advocate_id,
            Referral.status,
            Referral.attributed_at,
            Referral.order_completed_at,
            Referral.decided_at,
            ReferralCode.issued_at,
        )
        .outerjoin(ReferralCode, ReferralCode.customer_id == Referral.advocate_id)
        .where(
            Referral.standing_for.is_not(None),
            or_(
                in_period(Referral.attributed_at),
                in_period(Referral.order_completed_at),
                and_(Referral.status.in_(QUALIFIED_STATUSES), in_period(Referral.decided_at)),
            ),
        )
    )
    return [ReferralFacts(*row) for row in rows.all()]


async def _rejections(session: AsyncSession, period: Period) -> Rejections:
    """Rejections (self-referrals without a standing attribution included) decided in the period
    and reversals made in it, by reason."""

    async def by_reason(status: str, moment: Any) -> dict[str, int]:
        rows = await session.execute(
            select(Referral.reason, func.count())
            .where(Referral.status == status, moment >= period.start, moment < period.end)
            .group_by(Referral.reason)
        )
        return ranked_counts({reason: int(count) for reason, count in rows.all()})

    return Rejections(
        await by_reason("rejected", Referral.decided_at), await by_reason("reversed", Referral.reversed_at)
    )


async def _revenue(session: AsyncSession, period: Period) -> dict[str, dict[str, Decimal]]:
    """Net referred revenue per advocate and currency of the orders completed in the period."""
    referred = (
        select(
            Order.order_id,
            Referral.advocate_id,
            Order.amount,
            Order.currency,
            Order.completed_at,
            Referral.attributed_at,
        )
        .join(Referral, Referral.friend_id == Order.customer_id)
        .where(
            Referral.standing_for.is_not(None),
            Order.completed_at >= period.start,
            Order.completed_at < period.end,
        )
    )
    orders = [ReferredOrder(*row) for row in (await session.execute(referred)).all()]
    refunds: list[RefundFacts] = []
    if orders:
        rows = await session.execute(
            select(Refund.order_id, Refund.amount, Refund.currency).where(
                Refund.order_id.in_(referred.with_only_columns(Order.order_id).scalar_subquery())
            )
        )
        refunds = [RefundFacts(*row) for row in rows.all()]
    return referred_revenue(orders, refunds)


async def _customers(session: AsyncSession, period: Period) -> int:
    """Customers by the end of the period: one code each."""
    return int(await session.scalar(select(func.count()).where(ReferralCode.issued_at < period.end)) or 0)


async def _chains(session: AsyncSession, period: Period) -> ChainDepth:
    """Chain depth of the standing referrals attributed by the end of the period."""
    rows = await session.execute(
        select(Referral.friend_id, Referral.advocate_id).where(
            Referral.standing_for.is_not(None), Referral.attributed_at < period.end
        )
    )
    return chain_depth((friend, advocate) for friend, advocate in rows.all())


async def _codes(session: AsyncSession, advocate_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(advocate_ids))
    codes: dict[str, str] = {}
    for start in range(0, len(wanted), 500):  # keep the IN list short
        rows = await session.execute(
            select(ReferralCode.customer_id, ReferralCode.code).where(
                ReferralCode.customer_id.in_(wanted[start : start + 500])
            )
        )
        codes.update({customer: code for customer, code in rows.all()})
    return codes


async def daily_report(session: AsyncSession, period: Period) -> list[FunnelDay]:
    """The funnel of every day of the period."""
    return daily_funnel(period, await _clicks(session, period), await _referrals(session, period))


async def _advocates(
    session: AsyncSession,
    period: Period,
    clicks: list[ClickCount],
    referrals: list[ReferralFacts],
    revenue: dict[str, dict[str, Decimal]],
) -> list[AdvocateStats]:
    funnels = advocate_funnels(period, clicks, referrals)
    active = set(funnels) | set(revenue)
    codes = await _codes(session, active)
    stats = [
        AdvocateStats(
            advocate, codes.get(advocate), funnels.get(advocate, FunnelCounts()), revenue.get(advocate, {})
        )
        for advocate in active
    ]
    return leaderboard(stats, len(stats))


async def advocates_report(session: AsyncSession, period: Period) -> list[AdvocateStats]:
    """Every advocate active in the period with code, funnel and referred revenue, best first."""
    clicks, referrals = await _clicks(session, period), await _referrals(session, period)
    return await _advocates(session, period, clicks, referrals, await _revenue(session, period))


async def leaderboard_report(session: AsyncSession, period: Period, limit: int) -> list[AdvocateStats]:
    """The top `limit` advocates of the period."""
    return (await advocates_report(session, period))[:limit]


async def _summary(
    session: AsyncSession,
    period: Period,
    days: list[FunnelDay],
    referrals: list[ReferralFacts],
    revenue: dict[str, dict[str, Decimal]],
) -> Summary:
    totals = sum((day.counts for day in days), FunnelCounts())
    return Summary(
        period=period,
        funnel=totals,
        k_factor=k_factor(
            customers=await _customers(session, period),
            invitations=totals.clicks,
            signups=totals.signups,
            qualified=totals.qualified,
        ),
        cycle_times=cycle_times(period, referrals),
        chain_depth=await _chains(session, period),
        rejections=await _rejections(session, period),
        referred_revenue=total_revenue(revenue),
    )


async def summary_report(session: AsyncSession, period: Period) -> Summary:
    """Funnel totals, K-factor, cycle times, chain depth, rejections and referred revenue."""
    clicks, referrals = await _clicks(session, period), await _referrals(session, period)
    days = daily_funnel(period, clicks, referrals)
    return await _summary(session, period, days, referrals, await _revenue(session, period))


@dataclass(frozen=True)
class Report:
    """The daily funnel, the summary and every active advocate (best first) of one period."""

    days: list[FunnelDay]
    summary: Summary
    advocates: list[AdvocateStats]


async def full_report(session: AsyncSession, period: Period) -> Report:
    """Everything the analytics page shows, reading each table once per figure."""
    clicks, referrals = await _clicks(session, period), await _referrals(session, period)
    days = daily_funnel(period, clicks, referrals)
    revenue = await _revenue(session, period)
    return Report(
        days,
        await _summary(session, period, days, referrals, revenue),
        await _advocates(session, period, clicks, referrals, revenue),
    )
