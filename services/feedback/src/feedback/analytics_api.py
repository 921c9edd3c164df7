"""Feedback analytics over HTTP (JSON, every endpoint needs the API token) and the chart the support
console embeds: inline SVG that works offline and runs no script."""

from __future__ import annotations

from datetime import date
from typing import Any

import pygal
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from wom_chassis import ReadSession, guarded_router, utcnow
from wom_chassis.reports import (
    DurationStats,
    PeriodQuery,
    PeriodView,
    chart_config,
    default_period,
    inline_svg,
)
from wom_contracts import Scope

from feedback.analytics import (
    Daily,
    Summary,
    cases_daily_report,
    daily_report,
    nps_daily_report,
    summary_report,
)
from feedback.domain.analytics import (
    CSAT_DEFINITION,
    NPS_DEFINITION,
    RECOVERY_DEFINITION,
    SLA_DEFINITION,
    Nps,
)

__all__ = ["console_chart", "nps_chart_svg", "router", "summary_view"]


def _rounded(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


class NpsView(BaseModel):
    answers: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None = Field(description="% promoters − % detractors, −100..100; null without answers")

    @classmethod
    def fields(cls, score: Nps) -> dict[str, Any]:
        return {
            "answers": score.answers,
            "promoters": score.promoters,
            "passives": score.passives,
            "detractors": score.detractors,
            "nps": _rounded(score.nps),
        }


class NpsSummaryView(NpsView):
    definition: str = NPS_DEFINITION


class CsatView(BaseModel):
    answers: int
    satisfied: int = Field(description="answers scoring 4 or 5")
    csat: float | None = Field(description="satisfied / answers in %")
    definition: str = CSAT_DEFINITION


class ReviewsView(BaseModel):
    reviews: int
    average: float | None = Field(description="mean score, 1–5")


class CaseVolumeView(BaseModel):
    opened: int = Field(description="cases opened in the period")
    by_priority: dict[str, int]
    by_queue: dict[str, int]


class SlaView(BaseModel):
    resolved: int = Field(description="cases resolved in the period")
    resolved_in_time: int = Field(description="of those, resolved by their SLA due time")
    compliance: float | None = Field(description="resolved_in_time / resolved in %")
    breached_open: int = Field(description="unresolved and past due at the period end (or now)")
    definition: str = SLA_DEFINITION


class DurationView(BaseModel):
    count: int
    median_hours: float | None
    mean_hours: float | None

    @classmethod
    def of(cls, stats: DurationStats) -> DurationView:
        return cls(
            count=stats.count,
            median_hours=_rounded(stats.median_hours),
            mean_hours=_rounded(stats.mean_hours),
        )


class TimeToResolveView(BaseModel):
    overall: DurationView
    by_priority: dict[str, DurationView]


class RecoveryView(BaseModel):
    customers: int = Field(description="customers with a negative answer in the period")
    recovered: int = Field(description="of those, customers who later answered better")
    rate: float | None = Field(description="recovered / customers in %")
    definition: str = RECOVERY_DEFINITION


class SummaryView(BaseModel):
    """The period at a glance; shares in % to 2 places, hours to 2 places."""

    period: PeriodView
    nps: NpsSummaryView
    nps_by_tier: dict[str, NpsView] = Field(description="tier of the answer (unknown: member) → NPS")
    csat: CsatView
    reviews: ReviewsView
    case_volume: CaseVolumeView
    sla: SlaView
    time_to_resolve: TimeToResolveView
    recovery: RecoveryView


class NpsDayView(NpsView):
    day: date


class NpsDailyView(BaseModel):
    period: PeriodView
    days: list[NpsDayView]


class CaseDayView(BaseModel):
    day: date
    opened: int
    resolved: int
    breached: int


class CasesDailyView(BaseModel):
    period: PeriodView
    days: list[CaseDayView]


def summary_view(summary: Summary) -> SummaryView:
    """The JSON shape of a summary."""
    sla, recovered, ttr = summary.sla, summary.recovery, summary.time_to_resolve
    return SummaryView(
        period=PeriodView.of(summary.period),
        nps=NpsSummaryView(**NpsView.fields(summary.nps)),
        nps_by_tier={tier: NpsView(**NpsView.fields(score)) for tier, score in summary.nps_by_tier.items()},
        csat=CsatView(
            answers=summary.csat.answers, satisfied=summary.csat.satisfied, csat=_rounded(summary.csat.csat)
        ),
        reviews=ReviewsView(reviews=summary.reviews.reviews, average=_rounded(summary.reviews.average)),
        case_volume=CaseVolumeView(
            opened=summary.case_volume.opened,
            by_priority=summary.case_volume.by_priority,
            by_queue=summary.case_volume.by_queue,
        ),
        sla=SlaView(
            resolved=sla.resolved,
            resolved_in_time=sla.resolved_in_time,
            compliance=_rounded(sla.compliance),
            breached_open=sla.breached_open,
        ),
        time_to_resolve=TimeToResolveView(
            overall=DurationView.of(ttr.overall),
            by_priority={priority: DurationView.of(stats) for priority, stats in ttr.by_priority.items()},
        ),
        recovery=RecoveryView(
            customers=recovered.customers, recovered=recovered.recovered, rate=_rounded(recovered.rate)
        ),
    )


def nps_chart_svg(daily: Daily) -> Markup:
    """Two inline SVG charts of the period: NPS per day (a line, −100..100, gaps on days without
    answers) and cases opened, resolved and breached per day (bars). No script, nothing fetched."""
    labels = [point.day.isoformat() for point in daily.nps]
    major = min(len(labels), 10)
    line = pygal.Line(
        chart_config(
            title="NPS per day", range=(-100, 100), x_labels_major_count=major, show_dots=len(labels) <= 62
        )
    )
    line.x_labels = labels
    line.add("NPS", [_rounded(point.score.nps, 1) for point in daily.nps], allow_interruptions=True)
    bars = pygal.Bar(chart_config(title="Cases per day", x_labels_major_count=major))
    bars.x_labels = [point.day.isoformat() for point in daily.cases]
    for name in ("opened", "resolved", "breached"):
        bars.add(name, [getattr(point, name) for point in daily.cases])
    return Markup(inline_svg(line) + inline_svg(bars))


async def console_chart(session: AsyncSession) -> Markup:
    """The console's chart markup: NPS and cases per day over the last 30 days (UTC)."""
    daily = await daily_report(session, default_period(utcnow().date()))
    return await run_in_threadpool(nps_chart_svg, daily)


router = guarded_router(Scope.ANALYTICS_READ)
"""The analytics endpoints."""


@router.get("/analytics/summary")
async def summary(period: PeriodQuery, session: ReadSession) -> SummaryView:
    """NPS overall and per tier, CSAT, reviews, case volume, SLA, time to resolve, recovery."""
    return summary_view(await summary_report(session, period, utcnow()))


@router.get("/analytics/nps/daily")
async def nps_daily(period: PeriodQuery, session: ReadSession) -> NpsDailyView:
    """NPS answers by category and the NPS, one point per day (null NPS on days without)."""
    days = await nps_daily_report(session, period)
    return NpsDailyView(
        period=PeriodView.of(period),
        days=[NpsDayView(day=day.day, **NpsView.fields(day.score)) for day in days],
    )


@router.get("/analytics/cases/daily")
async def cases_daily(period: PeriodQuery, session: ReadSession) -> CasesDailyView:
    """Cases opened, resolved and breached, one point per day (zeros included)."""
    days = await cases_daily_report(session, period)
    return CasesDailyView(
        period=PeriodView.of(period),
        days=[
            CaseDayView(day=day.day, opened=day.opened, resolved=day.resolved, breached=day.breached)
            for day in days
        ],
    )
