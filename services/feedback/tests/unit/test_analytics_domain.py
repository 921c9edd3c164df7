"""Feedback analytics arithmetic: every figure, with its edge cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from feedback.domain.analytics import (
    AnswerFacts,
    CaseDay,
    CaseFacts,
    CaseVolume,
    Csat,
    Nps,
    Recovery,
    ReviewAverage,
    SlaCompliance,
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
from wom_chassis.reports import DurationStats, Period, default_period, period_problem

WEEK = Period(date(2026, 11, 1), date(2026, 11, 7))


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def answer(
    score: int,
    kind: str = "nps",
    when: datetime | None = None,
    customer: str = "ana",
    tier: str | None = None,
    category: str | None = None,
) -> AnswerFacts:
    return AnswerFacts(customer, kind, score, when or at(2), category=category, tier=tier)


def case(
    opened: datetime,
    due_hours: float = 24,
    resolved: datetime | None = None,
    breached: datetime | None = None,
    priority: str = "P2",
    queue: str = "general",
) -> CaseFacts:
    return CaseFacts(priority, queue, opened, opened + timedelta(hours=due_hours), breached, resolved)


# NPS


def test_nps_without_answers_is_null() -> None:
    assert nps([]) == Nps(0, 0, 0, 0, None)
    assert nps([answer(5, "csat"), answer(1, "review")]) == Nps(0, 0, 0, 0, None)  # other kinds only


def test_nps_of_promoters_only_is_100_and_of_detractors_only_is_minus_100() -> None:
    assert nps([answer(9), answer(10)]) == Nps(2, 2, 0, 0, 100.0)
    assert nps([answer(0), answer(6)]) == Nps(2, 0, 0, 2, -100.0)
    assert nps([answer(7), answer(8)]) == Nps(2, 0, 2, 0, 0.0)


def test_nps_is_percent_promoters_minus_percent_detractors() -> None:
    answers = [answer(10), answer(9), answer(9), answer(8), answer(6), answer(3), answer(5, "csat")]
    assert nps(answers) == Nps(6, 3, 1, 2, 100 * (3 - 2) / 6)
    assert nps([answer(10), answer(7), answer(2)]).nps == 0.0


def test_nps_uses_the_stored_category_and_derives_a_missing_one_from_the_score() -> None:
    assert nps([answer(9, category="promoter"), answer(9)]).promoters == 2
    assert nps([answer(6, category=None)]).detractors == 1


def test_nps_by_tier_counts_an_unknown_tier_as_member() -> None:
    answers = [
        answer(10, tier="key_client"),
        answer(3, tier="key_client"),
        answer(10, tier="key_client"),
        answer(10),
        answer(8, tier="member"),
        answer(1, tier="repeat_buyer"),
        answer(2, "csat", tier="gold"),  # not an NPS answer: no tier row for it
    ]
    by_tier = nps_by_tier(answers)
    assert list(by_tier) == ["key_client", "member", "repeat_buyer"]
    assert by_tier["key_client"] == Nps(3, 2, 0, 1, 100 / 3)
    assert by_tier["member"] == Nps(2, 1, 1, 0, 50.0)
    assert by_tier["repeat_buyer"] == Nps(1, 0, 0, 1, -100.0)
    assert nps_by_tier([]) == {}


def test_daily_nps_has_every_day_by_utc_day_and_null_on_days_without_answers() -> None:
    answers = [
        answer(10, when=at(1, 0, 0)),
        answer(0, when=at(1, 23, 59)),
        answer(9, when=datetime(2026, 11, 3, 1, 30, tzinfo=timezone(timedelta(hours=3)))),  # 2 Nov UTC
        answer(10, when=at(7, 23, 59)),
        answer(10, when=at(8, 0, 0)),  # after the period
        answer(1, "csat", when=at(4)),
    ]
    days = {point.day.day: point.score for point in daily_nps(WEEK, answers)}
    assert list(days) == [1, 2, 3, 4, 5, 6, 7]
    assert days[1] == Nps(2, 1, 0, 1, 0.0)
    assert days[2] == Nps(1, 1, 0, 0, 100.0)
    assert days[3] == days[4] == Nps(0, 0, 0, 0, None)
    assert days[7].answers == 1


# CSAT and reviews


def test_csat_is_the_share_of_four_and_five() -> None:
    assert csat([]) == Csat(0, 0, None)
    assert csat([answer(5, "csat"), answer(4, "csat"), answer(3, "csat"), answer(1, "csat")]) == Csat(
        4, 2, 50.0
    )
    assert csat([answer(4, "csat"), answer(10), answer(5, "review")]) == Csat(1, 1, 100.0)
    assert csat([answer(3, "csat")]) == Csat(1, 0, 0.0)


def test_review_average() -> None:
    assert review_average([]) == ReviewAverage(0, None)
    assert review_average([answer(10)]) == ReviewAverage(0, None)
    reviews = [answer(5, "review"), answer(4, "review"), answer(2, "review"), answer(1, "csat")]
    assert review_average(reviews) == ReviewAverage(3, 11 / 3)


# recovery


def test_recovery_without_negative_answers_is_null() -> None:
    assert recovery(WEEK, []) == Recovery(0, 0, None)
    assert recovery(WEEK, [answer(10), answer(5, "csat")]) == Recovery(0, 0, None)


def test_a_later_higher_answer_of_the_same_kind_is_a_recovery() -> None:
    answers = [answer(3, when=at(2)), answer(4, when=at(3))]  # still a detractor, but better
    assert recovery(WEEK, answers) == Recovery(1, 1, 100.0)


def test_an_equal_later_answer_is_not_a_recovery() -> None:
    answers = [answer(3, when=at(2)), answer(3, when=at(5))]
    assert recovery(WEEK, answers) == Recovery(1, 0, 0.0)


def test_what_does_not_count_as_a_recovery() -> None:
    answers = [
        # bo: better, but of another kind
        answer(2, "csat", when=at(2), customer="bo"),
        answer(10, "nps", when=at(3), customer="bo"),
        # cy: the better answer came before the negative one
        answer(9, when=at(1), customer="cy"),
        answer(4, when=at(2), customer="cy"),
        # di: the better answer came after the period
        answer(1, "review", when=at(6), customer="di"),
        answer(5, "review", when=at(8), customer="di"),
        # ed: recovered from a negative review
        answer(1, "review", when=at(1), customer="ed"),
        answer(2, "review", when=at(7, 23), customer="ed"),
        # fay: never negative, not counted
        answer(7, when=at(1), customer="fay"),
        answer(10, when=at(2), customer="fay"),
    ]
    assert recovery(WEEK, answers) == Recovery(4, 1, 25.0)


def test_any_negative_answer_of_the_period_can_be_recovered_from() -> None:
    # 2, then 6 (better than 2: recovered), then 5 (worse than 6, but the recovery stands)
    answers = [answer(2, when=at(2)), answer(6, when=at(3)), answer(5, when=at(4))]
    assert recovery(WEEK, answers) == Recovery(1, 1, 100.0)
    # a negative answer before the period does not put the customer in the period's count
    before = [answer(0, when=datetime(2026, 10, 31, tzinfo=UTC)), answer(8, when=at(2))]
    assert recovery(WEEK, before) == Recovery(0, 0, None)


# cases


def test_case_volume_counts_cases_opened_in_the_period_by_priority_and_queue() -> None:
    cases = [
        case(at(1), priority="P1", queue="key_clients"),
        case(at(2), priority="P2", queue="general"),
        case(at(3), priority="P2", queue="logistics"),
        case(at(7, 23), priority="P3", queue="general"),
        case(at(8), priority="P1", queue="key_clients"),  # after the period
        case(datetime(2026, 10, 30, tzinfo=UTC)),  # before
    ]
    assert case_volume(WEEK, cases) == CaseVolume(
        4, {"P1": 1, "P2": 2, "P3": 1}, {"general": 2, "key_clients": 1, "logistics": 1}
    )
    assert case_volume(WEEK, []) == CaseVolume(0, {}, {})


def test_daily_cases_counts_openings_resolutions_and_breaches_on_their_days() -> None:
    cases = [
        case(at(1), resolved=at(2)),
        case(at(1, 20), due_hours=4, breached=at(2, 0, 1), resolved=at(3)),
        case(datetime(2026, 10, 31, tzinfo=UTC), resolved=at(2)),  # opened before, resolved in
        case(at(7), resolved=at(8)),  # resolved after
    ]
    days = daily_cases(WEEK, cases)
    assert len(days) == 7
    assert days[0] == CaseDay(date(2026, 11, 1), opened=2)
    assert days[1] == CaseDay(date(2026, 11, 2), resolved=2, breached=1)
    assert days[2] == CaseDay(date(2026, 11, 3), resolved=1)
    assert days[6] == CaseDay(date(2026, 11, 7), opened=1)
    assert sum(day.opened + day.resolved + day.breached for day in days[3:6]) == 0


def test_sla_compliance_is_the_share_of_resolved_cases_resolved_by_their_due_time() -> None:
    now = at(30)
    cases = [
        case(at(1, 0), due_hours=24, resolved=at(2, 0)),  # exactly at the due time: in time
        case(at(1, 0), due_hours=24, resolved=at(2, 0, 1)),  # a minute late
        case(at(2, 0), due_hours=4, resolved=at(2, 3)),
        case(at(3), due_hours=24, resolved=at(8, 1)),  # resolved after the period
    ]
    assert sla_compliance(WEEK, cases, now) == SlaCompliance(3, 2, 200 / 3, 1)
    assert sla_compliance(WEEK, [], now) == SlaCompliance(0, 0, None, 0)


def test_breached_open_cases_are_counted_at_the_period_end_or_now_if_sooner() -> None:
    cases = [
        case(at(1), due_hours=24),  # due 2 Nov, never resolved
        case(at(5), due_hours=24, breached=at(6, 12)),  # due 6 Nov, never resolved
        case(at(7, 20), due_hours=8),  # due 8 Nov 4:00: not yet due at the period end
        case(at(1), due_hours=24, resolved=at(1, 12)),  # resolved in time
        case(at(3), due_hours=1, resolved=at(7, 12)),  # breached, but resolved by the end
        case(at(8, 6), due_hours=1),  # opened after the period
    ]
    assert sla_compliance(WEEK, cases, now=at(30)).breached_open == 2
    assert sla_compliance(WEEK, cases, now=at(5, 0)).breached_open == 2  # 1 Nov's, 3 Nov's case
    assert sla_compliance(WEEK, cases, now=at(1, 13)).breached_open == 0


def test_time_to_resolve_per_priority_of_cases_resolved_in_the_period() -> None:
    cases = [
        case(at(1, 0), priority="P1", resolved=at(1, 2)),
        case(at(1, 0), priority="P1", resolved=at(1, 6)),
        case(at(2, 0), priority="P2", resolved=at(2, 10)),
        case(at(2, 0), priority="P2", resolved=at(3, 0)),
        case(at(2, 0), priority="P2", resolved=at(4, 12)),
        case(at(1, 0), priority="P3"),  # unresolved
        case(at(7, 0), priority="P3", resolved=at(8, 1)),  # resolved after the period
    ]
    result = time_to_resolve(WEEK, cases)
    assert result.by_priority == {
        "P1": DurationStats(2, 4.0, 4.0),
        "P2": DurationStats(3, 24.0, (10 + 24 + 60) / 3),
    }
    assert result.overall == DurationStats(5, 10.0, (2 + 6 + 10 + 24 + 60) / 5)
    empty = time_to_resolve(WEEK, [])
    assert (empty.overall, empty.by_priority) == (DurationStats(0, None, None), {})


# periods


def test_periods() -> None:
    assert default_period(date(2026, 11, 30)) == Period(date(2026, 11, 1), date(2026, 11, 30))
    assert WEEK.days == 7 and WEEK.contains(at(7, 23, 59)) and not WEEK.contains(at(8, 0))
    assert (
        period_problem(date(2026, 11, 2), date(2026, 11, 1))
        == "'from' (2026-11-02) is after 'to' (2026-11-01)"
    )
    assert period_problem(date(2024, 1, 1), date(2024, 12, 31)) is None  # 366 days
    assert "longer than 366 days" in str(period_problem(date(2025, 1, 1), date(2026, 1, 2)))
