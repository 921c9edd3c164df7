"""Feedback analytics read from the feedback tables: queries here, arithmetic in
`feedback.domain.analytics`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.reports import Period

from feedback.domain.analytics import (
    AnswerFacts,
    CaseDay,
    CaseFacts,
    CaseVolume,
    Csat,
    Nps,
    NpsDay,
    Recovery,
    ReviewAverage,
    SlaCompliance,
    TimeToResolve,
    case_volume,
    csat,
    daily_cases,
    daily_nps,
    nps,
    nps_by_tier,
    recovery,
    review_average,
    sla_compliance,
    time_to_resolve,
)
from feedback.models import Case, Response

__all__ = ["Daily", "Summary", "cases_daily_report", "daily_report", "nps_daily_report", "summary_report"]


async def _answers(session: AsyncSession, period: Period) -> list[AnswerFacts]:
    """The answers submitted in the period (a recovery happens within the period too)."""
    rows = await session.execute(
        select(
            Response.customer_id,
            Response.kind,
            Response.score,
            Response.submitted_at,
            Response.category,
            Response.tier,
        ).where(Response.submitted_at >= period.start, Response.submitted_at < period.end)
    )
    return [AnswerFacts(*row) for row in rows]


async def _cases(session: AsyncSession, period: Period) -> list[CaseFacts]:
    """Every case that was open at some moment of the period."""
    rows = await session.execute(
        select(
            Case.priority, Case.queue, Case.opened_at, Case.sla_due_at, Case.breached_at, Case.resolved_at
        ).where(
            Case.opened_at < period.end,
            or_(Case.resolved_at.is_(None), Case.resolved_at >= period.start),
        )
    )
    return [CaseFacts(*row) for row in rows]


@dataclass(frozen=True)
class Summary:
    """Everything the analytics report about one period."""

    period: Period
    nps: Nps
    nps_by_tier: dict[str, Nps]
    csat: Csat
    reviews: ReviewAverage
    case_volume: CaseVolume
    sla: SlaCompliance
    time_to_resolve: TimeToResolve
    recovery: Recovery


async def summary_report(session: AsyncSession, period: Period, now: datetime) -> Summary:
    """NPS overall and per tier, CSAT, reviews, case volume, SLA, time to resolve and recovery;
    `now` bounds the breached-and-open count of a period that has not ended."""
    answers, cases = await _answers(session, period), await _cases(session, period)
    return Summary(
        period=period,
        nps=nps(answers),
        nps_by_tier=nps_by_tier(answers),
        csat=csat(answers),
        reviews=review_average(answers),
        case_volume=case_volume(period, cases),
        sla=sla_compliance(period, cases, now),
        time_to_resolve=time_to_resolve(period, cases),
        recovery=recovery(period, answers),
    )


async def nps_daily_report(session: AsyncSession, period: Period) -> list[NpsDay]:
    """NPS answers and score per day of the period."""
    return daily_nps(period, await _answers(session, period))


async def cases_daily_report(session: AsyncSession, period: Period) -> list[CaseDay]:
    """Cases opened, resolved and breached per day of the period."""
    return daily_cases(period, await _cases(session, period))


@dataclass(frozen=True)
class Daily:
    """Both daily series of one period, as the console chart shows them."""

    period: Period
    nps: list[NpsDay]
    cases: list[CaseDay]


async def daily_report(session: AsyncSession, period: Period) -> Daily:
    """NPS per day and cases per day of the period."""
    return Daily(period, await nps_daily_report(session, period), await cases_daily_report(session, period))
