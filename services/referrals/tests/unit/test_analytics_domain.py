"""The analytics arithmetic on its own: periods, funnel, K-factor, cycle times, chain depth,
referred revenue and the leaderboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from referrals.domain.analytics import (
    AdvocateStats,
    ClickCount,
    FunnelCounts,
    ReferralFacts,
    ReferredOrder,
    RefundFacts,
    advocate_funnels,
    chain_depth,
    cycle_times,
    daily_funnel,
    funnel_rates,
    k_factor,
    leaderboard,
    money_text,
    ranked_counts,
    ratio,
    referred_revenue,
    total_revenue,
)
from wom_chassis.reports import Period, default_period, duration_stats, period_problem

NOV = Period(date(2026, 11, 1), date(2026, 11, 7))


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# periods


def test_a_period_includes_both_ends() -> None:
    assert NOV.days == 7
    assert NOV.dates()[0] == date(2026, 11, 1) and NOV.dates()[-1] == date(2026, 11, 7)
    assert NOV.start == at(1) and NOV.end == at(8)
    assert NOV.contains(at(7, 23, 59)) and not NOV.contains(at(8)) and not NOV.contains(at(1) - timedelta(1))
    assert not NOV.contains(None)


def test_the_default_period_is_the_last_30_days_with_today() -> None:
    assert default_period(date(2026, 11, 30)) == Period(date(2026, 11, 1), date(2026, 11, 30))


def test_a_period_must_run_forwards_and_last_at_most_366_days() -> None:
    assert period_problem(date(2026, 11, 2), date(2026, 11, 2)) is None
    assert period_problem(date(2024, 1, 1), date(2024, 12, 31)) is None  # 366 days of a leap year
    assert (
        period_problem(date(2026, 11, 3), date(2026, 11, 2))
        == "'from' (2026-11-03) is after 'to' (2026-11-02)"
    )
    problem = period_problem(date(2025, 1, 1), date(2026, 1, 2))
    assert problem is not None and "longer than 366 days" in problem


# funnel


def test_the_daily_funnel_has_a_point_for_every_day_and_zeros_between() -> None:
    clicks = [
        ClickCount(date(2026, 11, 2), "anna", clicks=4, unique_clicks=2),
        ClickCount(date(2026, 11, 2), "ben", clicks=1, unique_clicks=1),
        ClickCount(date(2026, 10, 31), "anna", clicks=9, unique_clicks=9),  # outside: ignored
    ]
    referrals = [
        # signed up on the 2nd, ordered on the 3rd, qualified on the 4th
        ReferralFacts("anna", "qualified", at(2, 10), order_completed_at=at(3, 12), decided_at=at(4, 1)),
        # a reversed referral did qualify
        ReferralFacts("anna", "reversed", at(2, 11), order_completed_at=at(2, 12), decided_at=at(2, 13)),
        # rejected: a first order but not qualified
        ReferralFacts("ben", "rejected", at(3, 9), order_completed_at=at(3, 10), decided_at=at(3, 11)),
        # signed up before the period, ordered in it
        ReferralFacts("ben", "attributed", at(10, 1) - timedelta(days=15), order_completed_at=at(7, 23)),
    ]
    days = daily_funnel(NOV, clicks, referrals)
    assert [day.day for day in days] == NOV.dates()
    by_day = {day.day.day: day.counts for day in days}
    assert by_day[1] == FunnelCounts()
    assert by_day[2] == FunnelCounts(clicks=5, unique_clicks=3, signups=2, first_orders=1, qualified=1)
    assert by_day[3] == FunnelCounts(signups=1, first_orders=2)
    assert by_day[4] == FunnelCounts(qualified=1)
    assert by_day[7] == FunnelCounts(first_orders=1)
    assert sum((day.counts for day in days), FunnelCounts()) == FunnelCounts(5, 3, 3, 4, 2)

    per_advocate = advocate_funnels(NOV, clicks, referrals)
    assert per_advocate == {
        "anna": FunnelCounts(clicks=4, unique_clicks=2, signups=2, first_orders=2, qualified=2),
        "ben": FunnelCounts(clicks=1, unique_clicks=1, signups=1, first_orders=2, qualified=0),
    }


def test_funnel_rates_are_step_to_step_and_none_after_an_empty_step() -> None:
    rates = funnel_rates(FunnelCounts(clicks=8, signups=4, first_orders=0, qualified=0))
    assert rates.signups_per_click == 0.5
    assert rates.first_orders_per_signup == 0.0
    assert rates.qualified_per_first_order is None
    assert ratio(1, 0) is None and ratio(0, 3) == 0.0


# K-factor


def test_k_factor_is_invitations_per_customer_times_conversion() -> None:
    k = k_factor(customers=200, invitations=50, signups=10, qualified=4)
    assert k.invitation_rate == 0.25
    assert k.conversion_rate == 0.2
    assert k.k_factor == pytest.approx(0.05)  # = sign-ups / customers
    assert k.k_factor_qualified == 0.02
    assert (k.customers, k.invitations, k.signups, k.qualified) == (200, 50, 10, 4)


def test_k_factor_with_zero_denominators_is_none_not_a_crash() -> None:
    nobody = k_factor(customers=0, invitations=0, signups=0, qualified=0)
    assert (nobody.invitation_rate, nobody.conversion_rate, nobody.k_factor, nobody.k_factor_qualified) == (
        None,
        None,
        None,
        None,
    )
    no_clicks = k_factor(customers=10, invitations=0, signups=2, qualified=1)
    assert no_clicks.invitation_rate == 0.0
    assert no_clicks.conversion_rate is None and no_clicks.k_factor is None
    assert no_clicks.k_factor_qualified == 0.1


# cycle times


def test_duration_stats_give_median_and_mean_in_hours() -> None:
    stats = duration_stats([timedelta(hours=h) for h in (96, 23, 26, 24, 29)])
    assert (stats.count, stats.median_hours, stats.mean_hours) == (5, 26.0, 39.6)
    even = duration_stats([timedelta(hours=1), timedelta(hours=2), timedelta(hours=4), timedelta(minutes=30)])
    assert even.median_hours == 1.5 and even.mean_hours == 1.875


def test_duration_stats_of_nothing_and_of_out_of_order_events() -> None:
    assert duration_stats([]) == duration_stats(()) and duration_stats([]).median_hours is None
    assert duration_stats([]).count == 0 and duration_stats([]).mean_hours is None
    clamped = duration_stats([timedelta(hours=-5), timedelta(hours=4)])
    assert clamped.median_hours == 2.0 and clamped.mean_hours == 2.0


def test_cycle_times_measure_sign_ups_and_qualifications_of_the_period() -> None:
    referrals = [
        ReferralFacts("anna", "qualified", at(2, 10), decided_at=at(3, 13), code_issued_at=at(1, 8)),
        ReferralFacts("anna", "reversed", at(3, 9), decided_at=at(4, 16), code_issued_at=at(2, 10)),
        ReferralFacts("anna", "rejected", at(4, 0), decided_at=at(5, 0), code_issued_at=at(1, 0)),
        # signed up before the period: no cycle time, but qualified in it
        ReferralFacts(
            "ben", "qualified", at(1) - timedelta(hours=5), decided_at=at(1, 1), code_issued_at=at(1)
        ),
        ReferralFacts("ben", "attributed", at(6, 12), code_issued_at=None),  # code unknown: skipped
    ]
    times = cycle_times(NOV, referrals)
    assert times.referral_cycle.count == 3
    assert times.referral_cycle.median_hours == 26.0  # of 26 h, 23 h and 72 h
    assert times.referral_cycle.mean_hours == pytest.approx(121 / 3)
    assert times.time_to_qualify.count == 3  # 27 h, 31 h, 6 h; the rejection is not counted
    assert times.time_to_qualify.median_hours == 27.0
    assert times.time_to_qualify.mean_hours == pytest.approx(64 / 3)


# chain depth


def test_chain_depth_of_a_chain_a_b_c_d() -> None:
    # A referred B, B referred C, C referred D: (friend, advocate) pairs in any order
    depth = chain_depth([("D", "C"), ("B", "A"), ("C", "B")])
    assert depth.max_depth == 3
    assert depth.distribution == {1: 1, 2: 1, 3: 1}
    assert depth.referrals == 3 and depth.in_loops == 0


def test_chain_depth_of_a_forest() -> None:
    pairs = [("B", "A"), ("E", "A"), ("C", "B"), ("G", "B"), ("D", "C"), ("Y", "X")]
    depth = chain_depth(pairs)
    assert (depth.max_depth, depth.distribution, depth.referrals) == (3, {1: 3, 2: 2, 3: 1}, 6)


def test_chain_depth_survives_a_referral_loop() -> None:
    # B referred C, C referred D, D referred B: a loop of three; E hangs off D; S referred itself
    depth = chain_depth([("C", "B"), ("D", "C"), ("B", "D"), ("E", "D"), ("S", "S")])
    assert depth.in_loops == 4
    assert depth.distribution == {1: 1, 3: 3, 4: 1}
    assert depth.max_depth == 4


def test_chain_depth_of_nothing_and_duplicate_friends() -> None:
    assert chain_depth([]).max_depth == 0 and chain_depth([]).distribution == {}
    assert chain_depth([("B", "A"), ("B", "C")]).distribution == {1: 1}


def test_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    pairs = [(f"c{n + 1}", f"c{n}") for n in range(5000)]
    assert chain_depth(reversed(pairs)).max_depth == 5000


# revenue


def test_referred_revenue_counts_orders_after_attribution_net_of_refunds_per_currency() -> None:
    orders = [
        ReferredOrder("o1", "anna", Decimal("50.00"), "EUR", at(3), attributed_at=at(2)),
        ReferredOrder("o2", "anna", Decimal("12.50"), "USD", at(6), attributed_at=at(2)),
        ReferredOrder("o3", "ben", Decimal("40.00"), "EUR", at(2), attributed_at=at(3)),  # before: no
        ReferredOrder("o4", "ben", Decimal("25.00"), "EUR", at(3), attributed_at=at(3)),  # at: yes
        ReferredOrder("o1", "anna", Decimal("50.00"), "EUR", at(3), attributed_at=at(2)),  # twice: once
    ]
    refunds = [
        RefundFacts("o1", Decimal("5.00"), "EUR"),
        RefundFacts("o3", Decimal("40.00"), "EUR"),  # of an order that does not count
        RefundFacts("o9", Decimal("1.00"), "EUR"),  # of an unknown order
    ]
    by_advocate = referred_revenue(orders, refunds)
    assert by_advocate == {
        "anna": {"EUR": Decimal("45.00"), "USD": Decimal("12.50")},
        "ben": {"EUR": Decimal("25.00")},
    }
    assert total_revenue(by_advocate) == {"EUR": Decimal("70.00"), "USD": Decimal("12.50")}


def test_money_text_keeps_cents_and_the_places_an_amount_has() -> None:
    assert money_text(Decimal("45")) == "45.00"
    assert money_text(Decimal("45.5000")) == "45.50"
    assert money_text(Decimal("0.1250")) == "0.125"
    assert money_text(Decimal("-3.1")) == "-3.10"


def test_reasons_are_ranked_by_count_then_name() -> None:
    ranked = ranked_counts({"not_first_order": 1, "below_minimum_order": 3, None: 1, "a_reason": 1})
    assert list(ranked.items()) == [
        ("below_minimum_order", 3),
        ("a_reason", 1),
        ("not_first_order", 1),
        ("unknown", 1),
    ]


# leaderboard


def stats(advocate: str, qualified: int, signups: int, clicks: int) -> AdvocateStats:
    funnel = FunnelCounts(clicks=clicks, signups=signups, qualified=qualified)
    return AdvocateStats(advocate, advocate.upper(), funnel)


def test_the_leaderboard_ranks_by_qualified_then_sign_ups_then_clicks() -> None:
    advocates = [
        stats("many-clicks", qualified=0, signups=0, clicks=500),
        stats("tie-b", qualified=2, signups=3, clicks=10),
        stats("a-fewer-clicks", qualified=2, signups=3, clicks=9),
        stats("more-signups", qualified=2, signups=5, clicks=1),
        stats("most-qualified", qualified=3, signups=3, clicks=0),
        stats("tie-a", qualified=2, signups=3, clicks=10),
        stats("more-clicks", qualified=2, signups=3, clicks=11),
    ]
    ranked = [a.advocate_id for a in leaderboard(advocates, 10)]
    assert ranked == [
        "most-qualified",
        "more-signups",
        "more-clicks",
        "tie-a",
        "tie-b",
        "a-fewer-clicks",
        "many-clicks",
    ]
    assert [a.advocate_id for a in leaderboard(advocates, 2)] == ["most-qualified", "more-signups"]
    assert leaderboard(advocates, 0) == []
