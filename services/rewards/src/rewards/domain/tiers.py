"""Tiers: key clients are the top N % by trailing net revenue; repeat buyers have two orders.

A key client who falls below the threshold keeps the tier for a grace period (hysteresis), so
that one refund or a quiet month does not flip a customer back and forth.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from wom_contracts import KEY_CLIENT, MEMBER, REPEAT_BUYER

from rewards.rules import TierRules

__all__ = [
    "KEY_CLIENT",
    "MEMBER",
    "REPEAT_BUYER",
    "Position",
    "Ranking",
    "Standings",
    "TierState",
    "TierStep",
    "next_tier",
    "position_of",
    "rank_customers",
]


@dataclass(frozen=True)
class Ranking:
    """Where the key-client line lies: the revenue of the last customer inside the top N %."""

    threshold: Decimal | None  # None: nobody has revenue yet
    ranked_customers: int
    key_clients: int


@dataclass(frozen=True)
class Position:
    """One customer's place in the ranking."""

    rank: int
    ranked_customers: int
    percentile: float


@dataclass(frozen=True)
class TierState:
    """A customer's tier and, for a key client under the line, since when."""

    tier: str = MEMBER
    below_threshold_since: datetime | None = None


@dataclass(frozen=True)
class TierStep:
    """The state after an evaluation, and the reason code when the tier changed."""

    state: TierState
    reason: str | None = None

    @property
    def changed(self) -> bool:
        """True when the tier itself changed (not only the grace bookkeeping)."""
        return self.reason is not None


class Standings:
    """Customers' trailing revenues in order, so that the key-client line can be drawn again
    after each change for the cost of one insertion rather than a sort of everyone."""

    def __init__(self, revenues: Mapping[str, Decimal], top_percent: Decimal) -> None:
        self._revenues = {customer_id: revenue for customer_id, revenue in revenues.items() if revenue > 0}
        self._ascending = sorted(self._revenues.values())
        self._top_percent = top_percent
        self._inside = (0, 0)  # (ranked, how many of them are inside the top percent), as last counted

    def update(self, customer_id: str, revenue: Decimal) -> None:
        """Take a customer's new trailing revenue into account."""
        old = self._revenues.pop(customer_id, None)
        if old is not None:
            del self._ascending[bisect_left(self._ascending, old)]
        if revenue > 0:
            self._revenues[customer_id] = revenue
            insort(self._ascending, revenue)

    def ranking(self) -> Ranking:
        """Customers with positive revenue ranked: the top `top_percent` % (at least one) are
        key clients, and everyone tied with the last of them too."""
        ascending = self._ascending
        if not ascending:
            return Ranking(None, 0, 0)
        ranked = len(ascending)
        counted, inside = self._inside
        if counted != ranked:
            inside = max(1, math.ceil(ranked * self._top_percent / 100))
            self._inside = (ranked, inside)
        threshold = ascending[ranked - inside]
        return Ranking(threshold, ranked, ranked - bisect_left(ascending, threshold))


def rank_customers(revenues: Mapping[str, Decimal], top_percent: Decimal) -> Ranking:
    """Rank customers with positive revenue; the top `top_percent` % (at least one) are key
    clients, and everyone tied with the last of them too."""
    return Standings(revenues, top_percent).ranking()


def position_of(revenue: Decimal, better: int, ranked_customers: int) -> Position | None:
    """The rank and percentile of a customer with `revenue` when `better` customers have more;
    None for a customer without revenue (not ranked)."""
    if revenue <= 0 or ranked_customers <= 0:
        return None
    rank = better + 1
    percentile = round(100 * (ranked_customers - rank + 1) / ranked_customers, 2)
    return Position(rank, ranked_customers, percentile)


def next_tier(
    state: TierState,
    *,
    revenue: Decimal,
    orders: int,
    threshold: Decimal | None,
    now: datetime,
    rules: TierRules,
) -> TierStep:
    """The tier a customer should hold now, given their trailing revenue and order count."""
    in_top = threshold is not None and revenue > 0 and revenue >= threshold
    below = REPEAT_BUYER if orders >= rules.repeat_buyer.min_orders else MEMBER
    if in_top:
        if state.tier == KEY_CLIENT:
            return TierStep(TierState(KEY_CLIENT))
        return TierStep(TierState(KEY_CLIENT), "entered_top_percent")
    if state.tier == KEY_CLIENT:
        since = state.below_threshold_since or now
        grace = timedelta(days=rules.key_client.downgrade_grace_days)
        if now - since < grace:
            return TierStep(TierState(KEY_CLIENT, since))
        return TierStep(TierState(below), "left_top_percent_after_grace")
    if below == state.tier:
        return TierStep(state)
    return TierStep(TierState(below), "repeat_purchase" if below == REPEAT_BUYER else "orders_refunded")
