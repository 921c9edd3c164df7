"""Reports: the period a report covers (from the `from`/`to` query parameters) and charts drawn
as inline SVG that work offline (no script, nothing fetched)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import pygal
from fastapi import Depends, Query
from markupsafe import Markup
from pydantic import BaseModel, Field

from wom_chassis.api_errors import invalid
from wom_chassis.columns import utcnow

__all__ = [
    "MAX_PERIOD_DAYS",
    "DurationStats",
    "Period",
    "PeriodQuery",
    "PeriodView",
    "chart_config",
    "default_period",
    "duration_stats",
    "inline_svg",
    "period_of",
    "period_problem",
]

MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class Period:
    """UTC calendar days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """The first moment of the period."""
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    def dates(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.first + timedelta(days=offset) for offset in range(self.days)]

    def contains(self, moment: datetime | None) -> bool:
        """True when `moment` falls on a day of the period."""
        return moment is not None and self.start <= moment < self.end


def default_period(today: date, days: int = 30) -> Period:
    """The last `days` days, today included."""
    return Period(today - timedelta(days=days - 1), today)


def period_problem(first: date, last: date, max_days: int = MAX_PERIOD_DAYS) -> str | None:
    """Why `first`..`last` is not a period that can be reported on, or None when it is."""
    if first > last:
        return f"'from' ({first}) is after 'to' ({last})"
    if (last - first).days + 1 > max_days:
        return f"the period from {first} to {last} is longer than {max_days} days"
    return None


async def period_of(
    first: Annotated[
        date | None, Query(alias="from", description="first day (UTC), default: 29 days before 'to'")
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="last day (UTC), default: today")] = None,
) -> Period:
    """The period of the query (the last 30 days by default); a 422 that says why when it is
    backwards or longer than a leap year."""
    last = last or utcnow().date()
    first = first or default_period(last).first
    problem = period_problem(first, last)
    if problem is not None:
        raise invalid(("query", "from"), problem, "period_invalid")
    return Period(first, last)


PeriodQuery = Annotated[Period, Depends(period_of)]
"""A FastAPI parameter: the report's period from `from` and `to`."""


class PeriodView(BaseModel):
    """The period of a report as it appears in JSON."""

    from_: date = Field(alias="from")
    to: date
    days: int

    @classmethod
    def of(cls, period: Period) -> PeriodView:
        """The view of `period`."""
        return cls.model_validate({"from": period.first, "to": period.last, "days": period.days})


@dataclass(frozen=True)
class DurationStats:
    """How many durations, and their median and mean in hours (None when there are none)."""

    count: int
    median_hours: float | None
    mean_hours: float | None


def duration_stats(durations: Iterable[timedelta]) -> DurationStats:
    """Median and mean in hours; a negative duration (events or clocks out of step) counts as 0."""
    hours = [max(duration, timedelta(0)) / timedelta(hours=1) for duration in durations]
    if not hours:
        return DurationStats(0, None, None)
    return DurationStats(len(hours), statistics.median(hours), statistics.fmean(hours))


def chart_config(**options: Any) -> pygal.Config:
    """A pygal configuration for inline SVG: no script files, no XML declaration."""
    return pygal.Config(**{"width": 900, "height": 360, **options, "js": [], "disable_xml_declaration": True})


def _without_scripts(root: Any) -> Any:
    # pygal writes an inline script and comments naming its web site: pages run no script and
    # name no URL
    parents = {child: parent for parent in root.iter() for child in parent}
    for node in list(root.iter()):
        if callable(node.tag) or str(node.tag).rsplit("}", 1)[-1] == "script":
            parents[node].remove(node)
    return root


def inline_svg(chart: Any) -> Markup:
    """The chart as SVG markup to put in a page (pygal escapes every text it writes)."""
    chart.add_xml_filter(_without_scripts)
    return Markup(str(chart.render(is_unicode=True)))
