"""Feedback analytics as arithmetic: NPS overall, per tier and per day, CSAT, review average, case
volume, SLA compliance, time to resolve and the recovery rate. Facts in, figures out; no I/O.

Days are UTC calendar days. A period is inclusive of both its first and its last day. Shares are
percentages (NPS runs from −100 to 100); a figure without anything to count is None."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from wom_chassis.reports import DurationStats, Period, duration_stats
from wom_contracts import MEMBER

from feedback.domain.classification import category as category_of

__all__ = [
    "CSAT_DEFINITION",
    "DEFAULT_TIER",
    "NPS_DEFINITION",
    "RECOVERY_DEFINITION",
    "SLA_DEFINITION",
    "AnswerFacts",
    "CaseDay",
    "CaseFacts",
    "CaseVolume",
    "Csat",
    "Nps",
    "NpsDay",
    "Recovery",
    "ReviewAverage",
    "SlaCompliance",
    "TimeToResolve",
    "case_volume",
    "csat",
    "daily_cases",
    "daily_nps",
    "nps",
    "nps_by_tier",
    "percent",
    "recovery",
    "review_average",
    "sla_compliance",
    "time_to_resolve",
]

DEFAULT_TIER = MEMBER  # a customer rewards has not ranked yet
NEGATIVE_CATEGORIES = ("detractor", "negative")

NPS_DEFINITION = (
    "NPS = % promoters (9–10) − % detractors (0–6) among the NPS answers submitted in the period, "
    "from −100 to 100; null without answers; per tier by the customer's tier when they answered "
    "(unknown: member)"
)
CSAT_DEFINITION = "CSAT = % of CSAT answers in the period that scored 4 or 5; null without answers"
SLA_DEFINITION = (
    "compliance = % of the cases resolved in the period that were resolved by their SLA due time; "
    "breached_open = cases unresolved at the end of the period (or now, if sooner) whose due time "
    "had passed by then"
)
RECOVERY_DEFINITION = (
    "among customers with a negative answer (detractor, negative) in the period, % who later in the "
    "period gave an answer of the same kind with a higher score; an equal score is not a recovery"
)


def percent(part: int, whole: int) -> float | None:
    """100 × part / whole, or None when the whole is 0."""
    return None if whole == 0 else 100 * part / whole


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@dataclass(frozen=True)
class AnswerFacts:
    """A survey answer as analytics see it; `category` None means not classified yet (derived
    from the score then) and `tier` None means the tier was not known."""

    customer_id: str
    kind: str
    score: int
    submitted_at: datetime
    category: str | None = None
    tier: str | None = None

    @property
    def classified(self) -> str:
        """The answer's category (promoter, passive, detractor; positive, neutral, negative)."""
        return self.category or category_of(self.kind, self.score)


@dataclass(frozen=True)
class Nps:
    """NPS answers by category and the score (None without answers)."""

    answers: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


def nps(answers: Iterable[AnswerFacts]) -> Nps:
    """% promoters − % detractors over the NPS answers given (other kinds are ignored)."""
    counts = Counter(answer.classified for answer in answers if answer.kind == "nps")
    total = sum(counts.values())
    promoters, detractors = counts["promoter"], counts["detractor"]
    score = percent(promoters - detractors, total)
    return Nps(total, promoters, counts["passive"], detractors, score)


def nps_by_tier(answers: Iterable[AnswerFacts]) -> dict[str, Nps]:
    """NPS per tier of the answer (an unknown tier is `member`), tiers in name order."""
    by_tier: dict[str, list[AnswerFacts]] = defaultdict(list)
    for answer in answers:
        if answer.kind == "nps":
            by_tier[answer.tier or DEFAULT_TIER].append(answer)
    return {tier: nps(by_tier[tier]) for tier in sorted(by_tier)}


@dataclass(frozen=True)
class NpsDay:
    """The NPS of one day."""

    day: date
    score: Nps


def daily_nps(period: Period, answers: Iterable[AnswerFacts]) -> list[NpsDay]:
    """One point per day of the period; a day without NPS answers has a null NPS."""
    by_day: dict[date, list[AnswerFacts]] = {day: [] for day in period.dates()}
    for answer in answers:
        if answer.kind == "nps" and period.contains(answer.submitted_at):
            by_day[_day(answer.submitted_at)].append(answer)
    return [NpsDay(day, nps(day_answers)) for day, day_answers in by_day.items()]


@dataclass(frozen=True)
class Csat:
    """CSAT answers, those scoring 4–5, and their share in % (None without answers)."""

    answers: int
    satisfied: int
    csat: float | None


def csat(answers: Iterable[AnswerFacts]) -> Csat:
    """Share of 4–5 among the CSAT answers given (other kinds are ignored)."""
    scores = [answer.score for answer in answers if answer.kind == "csat"]
    satisfied = sum(1 for score in scores if score >= 4)
    return Csat(len(scores), satisfied, percent(satisfied, len(scores)))


@dataclass(frozen=True)
class ReviewAverage:
    """How many reviews and their average score (1–5; None without reviews)."""

    reviews: int
    average: float | None


def review_average(answers: Iterable[AnswerFacts]) -> ReviewAverage:
    """The mean score of the reviews given (other kinds are ignored)."""
    scores = [answer.score for answer in answers if answer.kind == "review"]
    return ReviewAverage(len(scores), statistics.fmean(scores) if scores else None)


@dataclass(frozen=True)
class Recovery:
    """Customers with a negative answer in the period, those who recovered, and the rate in %."""

    customers: int
    recovered: int
    rate: float | None


def _recovered(answers: Sequence[AnswerFacts], period: Period) -> bool | None:
    """None when the customer had no negative answer in the period; else whether a later answer of
    the same kind, before the period ends, scored higher than one of their negative answers."""
    negatives = [
        a for a in answers if a.classified in NEGATIVE_CATEGORIES and period.contains(a.submitted_at)
    ]
    if not negatives:
        return None
    return any(
        later.kind == negative.kind
        and negative.submitted_at < later.submitted_at < period.end
        and later.score > negative.score
        for negative in negatives
        for later in answers
    )


def recovery(period: Period, answers: Iterable[AnswerFacts]) -> Recovery:
    """Recovery rate: see `RECOVERY_DEFINITION`."""
    by_customer: dict[str, list[AnswerFacts]] = defaultdict(list)
    for answer in answers:
        by_customer[answer.customer_id].append(answer)
    outcomes = [_recovered(customer_answers, period) for customer_answers in by_customer.values()]
    customers = sum(1 for outcome in outcomes if outcome is not None)
    recovered = sum(1 for outcome in outcomes if outcome)
    return Recovery(customers, recovered, percent(recovered, customers))


@dataclass(frozen=True)
class CaseFacts:
    """A remediation case as analytics see it."""

    priority: str
    queue: str
    opened_at: datetime
    sla_due_at: datetime
    breached_at: datetime | None = None
    resolved_at: datetime | None = None

    def overdue_at(self, moment: datetime) -> bool:
        """True when the case was open at `moment` with its due time passed."""
        unresolved = self.resolved_at is None or self.resolved_at > moment
        return self.opened_at <= moment and unresolved and self.sla_due_at <= moment


@dataclass(frozen=True)
class CaseVolume:
    """Cases opened in the period: all of them, per priority and per queue (in name order)."""

    opened: int
    by_priority: dict[str, int]
    by_queue: dict[str, int]


def _sorted_counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def case_volume(period: Period, cases: Iterable[CaseFacts]) -> CaseVolume:
    """How many cases were opened in the period, by priority and by queue."""
    opened = [case for case in cases if period.contains(case.opened_at)]
    return CaseVolume(
        len(opened),
        _sorted_counts(case.priority for case in opened),
        _sorted_counts(case.queue for case in opened),
    )


@dataclass(frozen=True)
class CaseDay:
    """Cases opened, resolved and breached on one day."""

    day: date
    opened: int = 0
    resolved: int = 0
    breached: int = 0


def daily_cases(period: Period, cases: Iterable[CaseFacts]) -> list[CaseDay]:
    """One point per day of the period, days without cases as zeros."""
    counts: dict[str, Counter[date]] = {"opened": Counter(), "resolved": Counter(), "breached": Counter()}
    for case in cases:
        for step, moment in (
            ("opened", case.opened_at),
            ("resolved", case.resolved_at),
            ("breached", case.breached_at),
        ):
            if moment is not None and period.contains(moment):
                counts[step][_day(moment)] += 1
    return [
        CaseDay(day, counts["opened"][day], counts["resolved"][day], counts["breached"][day])
        for day in period.dates()
    ]


@dataclass(frozen=True)
class SlaCompliance:
    """Cases resolved in the period, those resolved by their due time, the share in %, and the
    cases breached and still open at the end of the period (or at `now`, if sooner)."""

    resolved: int
    resolved_in_time: int
    compliance: float | None
    breached_open: int


def sla_compliance(period: Period, cases: Iterable[CaseFacts], now: datetime) -> SlaCompliance:
    """SLA compliance: see `SLA_DEFINITION`."""
    cases = list(cases)
    resolved = [case for case in cases if period.contains(case.resolved_at)]
    in_time = sum(
        1 for case in resolved if case.resolved_at is not None and case.resolved_at <= case.sla_due_at
    )
    as_of = min(now, period.end)
    breached_open = sum(1 for case in cases if case.overdue_at(as_of))
    return SlaCompliance(len(resolved), in_time, percent(in_time, len(resolved)), breached_open)


@dataclass(frozen=True)
class TimeToResolve:
    """Opened → resolved for the cases resolved in the period: overall and per priority."""

    overall: DurationStats
    by_priority: dict[str, DurationStats]


def time_to_resolve(period: Period, cases: Iterable[CaseFacts]) -> TimeToResolve:
    """Median and mean hours from opening to resolution, of the cases resolved in the period."""
    by_priority: dict[str, list[timedelta]] = defaultdict(list)
    for case in cases:
        if case.resolved_at is not None and period.contains(case.resolved_at):
            by_priority[case.priority].append(case.resolved_at - case.opened_at)
    overall = [duration for durations in by_priority.values() for duration in durations]
    return TimeToResolve(
        duration_stats(overall),
        {priority: duration_stats(by_priority[priority]) for priority in sorted(by_priority)},
    )
