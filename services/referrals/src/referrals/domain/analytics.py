"""Word-of-mouth analytics as arithmetic: the funnel per day and per advocate, K-factor, cycle
times, chain depth, referred revenue and the leaderboard. Facts in, figures out; no I/O.

Days are UTC calendar days. A period is inclusive of both its first and its last day."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from wom_chassis.reports import DurationStats, Period, duration_stats

__all__ = [
    "CHAIN_DEPTH_DEFINITION",
    "CYCLE_TIME_DEFINITION",
    "K_FACTOR_DEFINITION",
    "QUALIFIED_STATUSES",
    "AdvocateStats",
    "ChainDepth",
    "ClickCount",
    "CycleTimes",
    "FunnelCounts",
    "FunnelDay",
    "FunnelRates",
    "KFactor",
    "ReferralFacts",
    "ReferredOrder",
    "RefundFacts",
    "advocate_funnels",
    "chain_depth",
    "cycle_times",
    "daily_funnel",
    "funnel_rates",
    "k_factor",
    "leaderboard",
    "money_text",
    "ranked_counts",
    "ratio",
    "referred_revenue",
    "total_revenue",
]

QUALIFIED_STATUSES = ("qualified", "reversed")  # a reversed referral did qualify first

K_FACTOR_DEFINITION = (
    "customers = referral codes issued on or before the period end (every customer has one); "
    "invitations = share-link clicks in the period (clicks are the proxy for invitations); "
    "i = invitations / customers; c = sign-ups / invitations; K = i × c; "
    "K_qualified = qualified referrals / customers; null where a denominator is 0"
)
CYCLE_TIME_DEFINITION = (
    "referral cycle = friend's attribution − advocate's code issuance, for sign-ups in the period; "
    "time to qualify = decision − attribution, for referrals qualified in the period; hours, "
    "negative gaps (events that arrived out of order) count as 0"
)
CHAIN_DEPTH_DEFINITION = (
    "depth of a standing referral = 1 + depth of the advocate's own standing referral; an advocate "
    "nobody referred is a root (depth 0); customers in a referral loop get the loop's length"
)


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0."""
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class FunnelCounts:
    """The four steps of the funnel (and unique clicks: distinct visitors per code per day)."""

    clicks: int = 0
    unique_clicks: int = 0
    signups: int = 0
    first_orders: int = 0
    qualified: int = 0

    def __add__(self, other: FunnelCounts) -> FunnelCounts:
        return FunnelCounts(
            *(mine + theirs for mine, theirs in zip(astuple(self), astuple(other), strict=True))
        )


@dataclass(frozen=True)
class FunnelDay:
    """The funnel of one day."""

    day: date
    counts: FunnelCounts


@dataclass(frozen=True)
class FunnelRates:
    """Step-to-step ratios of one period's counts (not of a cohort); None where a step is 0."""

    signups_per_click: float | None
    first_orders_per_signup: float | None
    qualified_per_first_order: float | None


def funnel_rates(counts: FunnelCounts) -> FunnelRates:
    """Sign-ups per click, first orders per sign-up, qualified per first order."""
    return FunnelRates(
        ratio(counts.signups, counts.clicks),
        ratio(counts.first_orders, counts.signups),
        ratio(counts.qualified, counts.first_orders),
    )


@dataclass(frozen=True)
class ClickCount:
    """Clicks of one code on one day: all of them, and distinct visitors."""

    day: date
    advocate_id: str
    clicks: int
    unique_clicks: int


@dataclass(frozen=True)
class ReferralFacts:
    """A standing referral as the funnel sees it; `code_issued_at` is when the advocate's code
    was issued (None when it is not known)."""

    advocate_id: str
    status: str
    attributed_at: datetime
    order_completed_at: datetime | None = None
    decided_at: datetime | None = None
    code_issued_at: datetime | None = None

    @property
    def qualified_at(self) -> datetime | None:
        """When the referral qualified (even if a refund reversed it later), else None."""
        return self.decided_at if self.status in QUALIFIED_STATUSES else None


def _steps(referral: ReferralFacts, period: Period) -> Iterable[tuple[date, FunnelCounts]]:
    """The funnel steps the referral reached in the period, each on the UTC day it happened."""
    for moment, step in (
        (referral.attributed_at, FunnelCounts(signups=1)),
        (referral.order_completed_at, FunnelCounts(first_orders=1)),
        (referral.qualified_at, FunnelCounts(qualified=1)),
    ):
        if moment is not None and period.contains(moment):
            yield moment.astimezone(UTC).date(), step


def daily_funnel(
    period: Period, clicks: Iterable[ClickCount], referrals: Iterable[ReferralFacts]
) -> list[FunnelDay]:
    """One point per day of the period, days without activity as zeros."""
    by_day: dict[date, FunnelCounts] = {day: FunnelCounts() for day in period.dates()}
    for click in clicks:
        if click.day in by_day:
            by_day[click.day] += FunnelCounts(clicks=click.clicks, unique_clicks=click.unique_clicks)
    for referral in referrals:
        for day, step in _steps(referral, period):
            by_day[day] += step
    return [FunnelDay(day, counts) for day, counts in by_day.items()]


def advocate_funnels(
    period: Period, clicks: Iterable[ClickCount], referrals: Iterable[ReferralFacts]
) -> dict[str, FunnelCounts]:
    """The period's funnel of every advocate who had any activity in it."""
    by_advocate: dict[str, FunnelCounts] = defaultdict(FunnelCounts)
    for click in clicks:
        if period.first <= click.day <= period.last:
            by_advocate[click.advocate_id] += FunnelCounts(
                clicks=click.clicks, unique_clicks=click.unique_clicks
            )
    for referral in referrals:
        for _, step in _steps(referral, period):
            by_advocate[referral.advocate_id] += step
    return dict(by_advocate)


@dataclass(frozen=True)
class KFactor:
    """The viral coefficient of a period and its parts (see `K_FACTOR_DEFINITION`)."""

    customers: int
    invitations: int
    signups: int
    qualified: int
    invitation_rate: float | None
    conversion_rate: float | None
    k_factor: float | None
    k_factor_qualified: float | None


def k_factor(*, customers: int, invitations: int, signups: int, qualified: int) -> KFactor:
    """i = invitations / customers, c = sign-ups / invitations, K = i × c, and
    K_qualified = qualified / customers; None wherever a denominator is 0."""
    i = ratio(invitations, customers)
    c = ratio(signups, invitations)
    k = None if i is None or c is None else i * c
    return KFactor(customers, invitations, signups, qualified, i, c, k, ratio(qualified, customers))


@dataclass(frozen=True)
class CycleTimes:
    """Referral cycle (code issued → friend signed up) and time to qualify (signed up → qualified)."""

    referral_cycle: DurationStats
    time_to_qualify: DurationStats


def cycle_times(period: Period, referrals: Iterable[ReferralFacts]) -> CycleTimes:
    """Cycle times of the sign-ups of the period and of the referrals qualified in it."""
    cycle: list[timedelta] = []
    to_qualify: list[timedelta] = []
    for referral in referrals:
        if period.contains(referral.attributed_at) and referral.code_issued_at is not None:
            cycle.append(referral.attributed_at - referral.code_issued_at)
        qualified_at = referral.qualified_at
        if qualified_at is not None and period.contains(qualified_at):
            to_qualify.append(qualified_at - referral.attributed_at)
    return CycleTimes(duration_stats(cycle), duration_stats(to_qualify))


@dataclass(frozen=True)
class ChainDepth:
    """How deep referral chains go: the deepest, and how many standing referrals at each depth;
    `in_loops` counts customers caught in a referral loop (A referred B, B referred A)."""

    max_depth: int
    distribution: dict[int, int]
    referrals: int
    in_loops: int = 0


def _depths(advocate_of: Mapping[str, str]) -> tuple[dict[str, int], int]:
    """Depth of every referred customer, walking up each chain once; customers on a loop get
    the loop's length, so a loop never makes the walk run forever."""
    depth: dict[str, int] = {}
    in_loops = 0
    for start in advocate_of:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node = start
        while node in advocate_of and node not in depth and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = advocate_of[node]
        if node in on_path:  # a loop: path[on_path[node]:] goes round it
            loop = path[on_path[node] :]
            in_loops += len(loop)
            for member in loop:
                depth[member] = len(loop)
            path = path[: on_path[node]]
            node = loop[0]
        below = depth.get(node, 0)  # 0: a root, referred by nobody
        for member in reversed(path):
            below += 1
            depth[member] = below
    return depth, in_loops


def chain_depth(pairs: Iterable[tuple[str, str]]) -> ChainDepth:
    """Depths of standing referrals given as (friend, advocate) pairs; a friend has one standing
    referral (the first pair of a friend wins)."""
    advocate_of: dict[str, str] = {}
    for friend, advocate in pairs:
        advocate_of.setdefault(friend, advocate)
    depth, in_loops = _depths(advocate_of)
    distribution = dict(sorted(Counter(depth.values()).items()))
    return ChainDepth(max(distribution, default=0), distribution, len(depth), in_loops)


@dataclass(frozen=True)
class ReferredOrder:
    """An order of a referred friend, with the friend's advocate and attribution time."""

    order_id: str
    advocate_id: str
    amount: Decimal
    currency: str
    completed_at: datetime
    attributed_at: datetime


@dataclass(frozen=True)
class RefundFacts:
    """A refund of an order."""

    order_id: str
    amount: Decimal
    currency: str


def referred_revenue(
    orders: Iterable[ReferredOrder], refunds: Iterable[RefundFacts]
) -> dict[str, dict[str, Decimal]]:
    """Net referred revenue per advocate and currency: orders completed at or after the friend's
    attribution, minus every refund of those orders."""
    counted: dict[str, str] = {}
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for order in orders:
        if order.completed_at >= order.attributed_at and order.order_id not in counted:
            counted[order.order_id] = order.advocate_id
            revenue[order.advocate_id][order.currency] += order.amount
    for refund in refunds:
        advocate = counted.get(refund.order_id)
        if advocate is not None:
            revenue[advocate][refund.currency] -= refund.amount
    return {advocate: dict(sorted(amounts.items())) for advocate, amounts in revenue.items()}


def total_revenue(by_advocate: Mapping[str, Mapping[str, Decimal]]) -> dict[str, Decimal]:
    """The per-currency sum over advocates."""
    total: dict[str, Decimal] = defaultdict(Decimal)
    for amounts in by_advocate.values():
        for currency, amount in amounts.items():
            total[currency] += amount
    return dict(sorted(total.items()))


def money_text(amount: Decimal) -> str:
    """An amount as a decimal string: two places, more only where the amount has them."""
    two_places = amount.quantize(Decimal("0.01"))
    exact = two_places if two_places == amount else amount.normalize()
    return format(exact, "f")


def ranked_counts(counts: Mapping[str | None, int]) -> dict[str, int]:
    """Counts by reason, largest first then by name; a missing reason is `unknown`."""
    merged: Counter[str] = Counter()
    for reason, count in counts.items():
        merged[reason or "unknown"] += count
    return dict(sorted(merged.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class AdvocateStats:
    """One advocate's period: their code, funnel and net referred revenue per currency."""

    advocate_id: str
    code: str | None
    funnel: FunnelCounts
    revenue: dict[str, Decimal] = field(default_factory=dict)


def leaderboard(advocates: Iterable[AdvocateStats], limit: int) -> list[AdvocateStats]:
    """The top `limit` advocates by qualified referrals, then sign-ups, then clicks (ties by id)."""
    ranked = sorted(
        advocates,
        key=lambda a: (-a.funnel.qualified, -a.funnel.signups, -a.funnel.clicks, a.advocate_id),
    )
    return ranked[: max(limit, 0)]
