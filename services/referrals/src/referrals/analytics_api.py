"""Word-of-mouth analytics over HTTP: JSON endpoints and a server-rendered page with SVG charts
that work offline. Every endpoint needs the API token (Bearer, or HTTP Basic with the token as
password, so the page opens in a browser's login prompt)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pygal
from fastapi import Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from wom_chassis import ReadSession, guarded_router
from wom_chassis.l10n import install_filters
from wom_chassis.paging import Page, paging
from wom_chassis.reports import DurationStats, PeriodQuery, PeriodView, chart_config, inline_svg
from wom_contracts import Scope

from referrals.analytics import (
    Summary,
    advocates_report,
    daily_report,
    full_report,
    leaderboard_report,
    summary_report,
)
from referrals.domain.analytics import (
    CHAIN_DEPTH_DEFINITION,
    CYCLE_TIME_DEFINITION,
    K_FACTOR_DEFINITION,
    AdvocateStats,
    FunnelCounts,
    FunnelDay,
    funnel_rates,
    money_text,
)

__all__ = ["router"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_pages = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]), undefined=StrictUndefined
)
install_filters(_pages)
_pages.globals["locale"] = "en"  # the page's words are English; its figures too


class FunnelCountsView(BaseModel):
    clicks: int
    unique_clicks: int = Field(description="distinct visitors per code per day, summed")
    signups: int
    first_orders: int
    qualified: int

    @classmethod
    def counts(cls, counts: FunnelCounts) -> dict[str, int]:
        return {name: getattr(counts, name) for name in FunnelCountsView.model_fields}


class FunnelRatesView(BaseModel):
    signups_per_click: float | None
    first_orders_per_signup: float | None
    qualified_per_first_order: float | None


class FunnelTotalsView(FunnelCountsView):
    rates: FunnelRatesView


class KFactorView(BaseModel):
    customers: int
    invitations: int
    signups: int
    qualified: int
    invitation_rate: float | None = Field(description="i = invitations / customers")
    conversion_rate: float | None = Field(description="c = sign-ups / invitations")
    k_factor: float | None = Field(description="K = i × c")
    k_factor_qualified: float | None = Field(description="qualified / customers")
    definition: str = K_FACTOR_DEFINITION


class DurationView(BaseModel):
    count: int
    median_hours: float | None
    mean_hours: float | None


class CycleTimesView(BaseModel):
    referral_cycle: DurationView
    time_to_qualify: DurationView
    definition: str = CYCLE_TIME_DEFINITION


class ChainDepthView(BaseModel):
    max_depth: int
    distribution: dict[int, int] = Field(description="depth → standing referrals at that depth")
    referrals: int
    in_loops: int
    definition: str = CHAIN_DEPTH_DEFINITION


class RejectionsView(BaseModel):
    rejected: dict[str, int] = Field(description="rejections decided in the period, by reason")
    reversed: dict[str, int] = Field(description="qualified referrals reversed in the period, by reason")


class SummaryView(BaseModel):
    """The period at a glance; money as decimal strings per currency."""

    period: PeriodView
    funnel: FunnelTotalsView
    k_factor: KFactorView
    cycle_times: CycleTimesView
    chain_depth: ChainDepthView
    rejections: RejectionsView
    referred_revenue: dict[str, str]


class FunnelDayView(FunnelCountsView):
    day: date


class DailyFunnelView(BaseModel):
    period: PeriodView
    days: list[FunnelDayView]


class AdvocateFunnelView(FunnelCountsView):
    advocate_id: str
    code: str | None


class AdvocateFunnelList(BaseModel):
    period: PeriodView
    advocates: list[AdvocateFunnelView]
    total: int


class LeaderboardEntry(AdvocateFunnelView):
    rank: int
    referred_revenue: dict[str, str]


class LeaderboardView(BaseModel):
    period: PeriodView
    limit: int
    entries: list[LeaderboardEntry]


def _rounded(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _duration(stats: DurationStats) -> DurationView:
    return DurationView(
        count=stats.count,
        median_hours=_rounded(stats.median_hours, 2),
        mean_hours=_rounded(stats.mean_hours, 2),
    )


def _money(amounts: dict[str, Any]) -> dict[str, str]:
    return {currency: money_text(amount) for currency, amount in amounts.items()}


def summary_view(summary: Summary) -> SummaryView:
    """The JSON shape of a summary (ratios to 4 places, hours to 2)."""
    rates = funnel_rates(summary.funnel)
    k = summary.k_factor
    return SummaryView(
        period=PeriodView.of(summary.period),
        funnel=FunnelTotalsView(
            **FunnelCountsView.counts(summary.funnel),
            rates=FunnelRatesView(
                signups_per_click=_rounded(rates.signups_per_click, 4),
                first_orders_per_signup=_rounded(rates.first_orders_per_signup, 4),
                qualified_per_first_order=_rounded(rates.qualified_per_first_order, 4),
            ),
        ),
        k_factor=KFactorView(
            customers=k.customers,
            invitations=k.invitations,
            signups=k.signups,
            qualified=k.qualified,
            invitation_rate=_rounded(k.invitation_rate, 4),
            conversion_rate=_rounded(k.conversion_rate, 4),
            k_factor=_rounded(k.k_factor, 4),
            k_factor_qualified=_rounded(k.k_factor_qualified, 4),
        ),
        cycle_times=CycleTimesView(
            referral_cycle=_duration(summary.cycle_times.referral_cycle),
            time_to_qualify=_duration(summary.cycle_times.time_to_qualify),
        ),
        chain_depth=ChainDepthView(
            max_depth=summary.chain_depth.max_depth,
            distribution=summary.chain_depth.distribution,
            referrals=summary.chain_depth.referrals,
            in_loops=summary.chain_depth.in_loops,
        ),
        rejections=RejectionsView(rejected=summary.rejections.rejected, reversed=summary.rejections.reversed),
        referred_revenue=_money(summary.referred_revenue),
    )


def _entries(advocates: list[AdvocateStats]) -> list[LeaderboardEntry]:
    return [
        LeaderboardEntry(
            rank=rank,
            advocate_id=stats.advocate_id,
            code=stats.code,
            referred_revenue=_money(stats.revenue),
            **FunnelCountsView.counts(stats.funnel),
        )
        for rank, stats in enumerate(advocates, start=1)
    ]


LimitQuery = Annotated[int, Query(ge=1, le=100, description="how many advocates")]


def _charts(days: list[FunnelDay], summary: Summary) -> dict[str, Markup]:
    daily = pygal.Line(
        chart_config(
            title="Funnel per day",
            x_label_rotation=30,
            show_minor_x_labels=False,
            x_labels_major_count=min(len(days), 10),
            show_dots=len(days) <= 62,
        )
    )
    daily.x_labels = [day.day.isoformat() for day in days]
    for label, name in (
        ("clicks", "clicks"),
        ("sign-ups", "signups"),
        ("first orders", "first_orders"),
        ("qualified", "qualified"),
    ):
        daily.add(label, [getattr(day.counts, name) for day in days])
    rejections = summary.rejections
    reasons = sorted(set(rejections.rejected) | set(rejections.reversed))
    reasons_chart = pygal.HorizontalBar(chart_config(title="Rejections and reversals by reason"))
    reasons_chart.x_labels = reasons
    reasons_chart.add("rejected", [rejections.rejected.get(reason, 0) for reason in reasons])
    reasons_chart.add("reversed", [rejections.reversed.get(reason, 0) for reason in reasons])
    depth = pygal.Bar(chart_config(title="Standing referrals by chain depth", show_legend=False, height=280))
    depth.x_labels = [str(level) for level in summary.chain_depth.distribution]
    depth.add("referrals", list(summary.chain_depth.distribution.values()))
    return {"daily": inline_svg(daily), "reasons": inline_svg(reasons_chart), "depth": inline_svg(depth)}


def render_page(days: list[FunnelDay], summary: Summary, leaders: list[AdvocateStats], limit: int) -> str:
    """The analytics page: charts as inline SVG, figures and the leaderboard as HTML."""
    return _pages.get_template("analytics.html").render(
        summary=summary_view(summary),
        charts=_charts(days, summary),
        leaders=_entries(leaders),
        limit=limit,
    )


router = guarded_router(Scope.ANALYTICS_READ)
"""The analytics endpoints and page."""


@router.get("/analytics/summary")
async def summary(period: PeriodQuery, session: ReadSession) -> SummaryView:
    """Funnel totals, K-factor, cycle times, chain depth, rejection reasons, referred revenue."""
    return summary_view(await summary_report(session, period))


@router.get("/analytics/funnel/daily")
async def funnel_daily(period: PeriodQuery, session: ReadSession) -> DailyFunnelView:
    """Clicks → sign-ups → first orders → qualified, one point per day (zeros included)."""
    days = await daily_report(session, period)
    return DailyFunnelView(
        period=PeriodView.of(period),
        days=[FunnelDayView(day=day.day, **FunnelCountsView.counts(day.counts)) for day in days],
    )


@router.get("/analytics/funnel/advocates")
async def funnel_advocates(
    period: PeriodQuery,
    session: ReadSession,
    page: Annotated[Page, paging()],
) -> AdvocateFunnelList:
    """The funnel of every advocate active in the period, in leaderboard order."""
    advocates = await advocates_report(session, period)
    return AdvocateFunnelList(
        period=PeriodView.of(period),
        advocates=[
            AdvocateFunnelView(
                advocate_id=stats.advocate_id, code=stats.code, **FunnelCountsView.counts(stats.funnel)
            )
            for stats in page.of(advocates)
        ],
        total=len(advocates),
    )


@router.get("/analytics/leaderboard")
async def leaderboard(period: PeriodQuery, session: ReadSession, limit: LimitQuery = 10) -> LeaderboardView:
    """Top advocates by qualified referrals, then sign-ups, then clicks."""
    leaders = await leaderboard_report(session, period, limit)
    return LeaderboardView(period=PeriodView.of(period), limit=limit, entries=_entries(leaders))


@router.get("/analytics", response_class=HTMLResponse)
async def page(period: PeriodQuery, session: ReadSession, limit: LimitQuery = 10) -> HTMLResponse:
    """The analytics page for people, with the same period parameters."""
    report = await full_report(session, period)
    html = await run_in_threadpool(render_page, report.days, report.summary, report.advocates[:limit], limit)
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store"})
