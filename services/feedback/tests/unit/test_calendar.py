"""Business hours: deadlines and countdowns in a queue's working time, over weekends, holidays and
the clock changes of daylight saving time; the rules file's calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from feedback.domain.calendar import WallClock
from feedback.domain.triage import sla_deadline, triage
from feedback.rules import Calendar, Rules
from pydantic import ValidationError

CHISINAU = ZoneInfo("Europe/Chisinau")  # EET/EEST: the clocks go forward on the last Sunday of March
WEEK = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = Calendar(time_zone="Europe/Chisinau", hours=WEEK, holidays=[date(2026, 12, 25)]).business()
H = timedelta(hours=1)


def local(*args: int, zone: ZoneInfo = CHISINAU) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def test_a_deadline_inside_one_working_day() -> None:
    assert OFFICE.add(local(2026, 12, 1, 10), 4 * H) == local(2026, 12, 1, 14)  # a Tuesday
    assert OFFICE.add(local(2026, 12, 1, 10), 8 * H) == local(2026, 12, 1, 18)  # at closing time
    assert OFFICE.add(local(2026, 12, 1, 10), 9 * H) == local(2026, 12, 2, 10)  # the next morning


def test_time_before_opening_and_after_closing_does_not_count() -> None:
    assert OFFICE.add(local(2026, 12, 1, 6, 30), 1 * H) == local(2026, 12, 1, 10)
    assert OFFICE.add(local(2026, 12, 1, 21), 1 * H) == local(2026, 12, 2, 10)


def test_a_weekend_is_skipped() -> None:
    friday = local(2026, 12, 4, 16)
    assert OFFICE.add(friday, 4 * H) == local(2026, 12, 7, 11)  # 2 h on Friday, 2 on Monday
    assert OFFICE.add(local(2026, 12, 5, 12), 1 * H) == local(2026, 12, 7, 10)  # opened on a Saturday
    assert OFFICE.between(friday, local(2026, 12, 7, 11)) == 4 * H


def test_a_holiday_is_skipped() -> None:
    # Thursday 24 December 17:00, 4 working hours: 1 h that day, Friday the 25th is a holiday,
    # the weekend, then 3 h on Monday the 28th
    assert OFFICE.add(local(2026, 12, 24, 17), 4 * H) == local(2026, 12, 28, 12)
    assert OFFICE.between(local(2026, 12, 24, 17), local(2026, 12, 28, 12)) == 4 * H


def test_the_clocks_going_forward_and_back_over_a_weekend() -> None:
    # Friday 27 March 2026 17:00 EET (UTC+2); the clocks go forward on Sunday the 29th: Monday is
    # EEST (UTC+3). 3 working hours: 1 on Friday, 2 on Monday, ending at 11:00 local = 08:00 UTC.
    due = OFFICE.add(local(2026, 3, 27, 17), 3 * H)
    assert due == datetime(2026, 3, 30, 8, tzinfo=UTC) == local(2026, 3, 30, 11)
    assert due - local(2026, 3, 27, 17) == timedelta(days=2, hours=17)  # an hour less than the wall clock
    # and back on Sunday 25 October 2026: Friday is EEST, Monday EET
    due = OFFICE.add(local(2026, 10, 23, 17), 3 * H)
    assert due == datetime(2026, 10, 26, 9, tzinfo=UTC) == local(2026, 10, 26, 11)


def test_working_hours_across_the_jump_itself_count_the_time_that_passes() -> None:
    # a team working through the night from Saturday to Sunday 29 March: 00:00-24:00 on Sunday is
    # 23 hours of real time (at 02:00 the clock jumps to 03:00)
    nights = Calendar(time_zone="Europe/Chisinau", hours={"sun": ["00:00-24:00"]}).business()
    sunday = local(2026, 3, 29, 0)
    assert nights.between(sunday, sunday + 30 * H) == 23 * H
    assert nights.add(sunday, 23 * H) == local(2026, 3, 30, 0)
    assert nights.add(sunday, 24 * H) == local(2026, 4, 5, 1)  # the next Sunday


def test_the_countdown_runs_in_working_time_and_stands_still_outside_it() -> None:
    due = local(2026, 12, 7, 11)  # Monday
    assert OFFICE.between(local(2026, 12, 4, 17), due) == 3 * H
    assert OFFICE.between(local(2026, 12, 5, 3), due) == OFFICE.between(local(2026, 12, 6, 23), due) == 2 * H
    assert OFFICE.between(local(2026, 12, 7, 13), due) == -2 * H  # overdue by working time
    assert OFFICE.working(local(2026, 12, 4, 17)) and not OFFICE.working(local(2026, 12, 5, 12))
    assert OFFICE.working(local(2026, 12, 4, 9)) and not OFFICE.working(local(2026, 12, 4, 18))
    assert not OFFICE.working(local(2026, 12, 25, 12))  # the holiday


def test_several_intervals_a_day_and_a_lunch_break() -> None:
    split = Calendar(time_zone="UTC", hours={"mon": ["13:00-17:00", "08:00-12:00"]}).business()
    monday = datetime(2026, 12, 7, 11, tzinfo=UTC)
    assert split.add(monday, 2 * H) == datetime(2026, 12, 7, 14, tzinfo=UTC)
    assert split.between(monday, datetime(2026, 12, 7, 16, tzinfo=UTC)) == 4 * H


def test_a_queue_without_a_calendar_counts_every_hour() -> None:
    rules = Rules(
        calendars={"office": {"time_zone": "Europe/Chisinau", "hours": WEEK}},
        queues=[
            {"name": "key-clients", "when": {"key_client": True}, "calendar": "office"},
            {"name": "support"},
        ],
    )
    friday = local(2026, 12, 4, 16)
    assert isinstance(rules.clock("support"), WallClock) and isinstance(rules.clock("gone"), WallClock)
    assert sla_deadline(friday, "P1", "support", rules) == friday + 4 * H
    assert sla_deadline(friday, "P1", "key-clients", rules) == local(2026, 12, 7, 11)
    found = triage(kind="nps", score=2, signals=[], key_client=True, opened_at=friday, rules=rules)
    assert (found.queue, found.sla_due_at) == ("key-clients", local(2026, 12, 7, 11))


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ({"time_zone": "Mars/Olympus", "hours": WEEK}, "unknown time zone 'Mars/Olympus'"),
        ({"time_zone": "UTC", "hours": {"mon": ["18:00-09:00"]}}, "18:00-09:00 ends before it starts"),
        ({"time_zone": "UTC", "hours": {"mon": ["09:00-13:00", "12:00-18:00"]}}, "overlap"),
        ({"time_zone": "UTC", "hours": {"mon": ["9:00-18:00"]}}, "should match pattern"),
        ({"time_zone": "UTC", "hours": {"mon": []}}, "at least one weekday"),
        ({"time_zone": "UTC", "hours": {"monday": ["09:00-18:00"]}}, "Input should be 'mon'"),
    ],
)
def test_a_calendar_that_cannot_be_is_refused(calendar: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Calendar.model_validate(calendar)


def test_queues_name_calendars_and_escalation_queues_that_exist() -> None:
    office = {"time_zone": "UTC", "hours": WEEK}
    with pytest.raises(ValidationError, match="no calendar 'office'"):
        Rules(queues=[{"name": "support", "calendar": "office"}])
    with pytest.raises(ValidationError, match="escalate_to 'supervisors' is not a queue"):
        Rules(calendars={"office": office}, queues=[{"name": "support", "escalate_to": "supervisors"}])
    with pytest.raises(ValidationError, match="names the queue itself"):
        Rules(queues=[{"name": "support", "escalate_to": "support"}])
