"""Business hours: a queue's working time, in which its SLAs are counted.

A calendar is working hours per weekday in a time zone, and holidays (local dates without work).
`add` is the deadline (start plus so much working time), `between` the working time of a span
(the countdown of a case). The hours are the team's wall clock: 09:00–18:00 is nine hours on
any day but one whose clock jumps inside them, where it is the time that really passes.
Written here rather than taken from a business-hours library: the ones on PyPI count whole days
or take no time zone, and the arithmetic is a screenful over zoneinfo.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar", "WallClock"]

# a calendar works at least one weekday (the rules file checks it), so a span of working time is
# found within its length in years of days, holidays included; beyond that the rules are wrong
_HORIZON_DAYS = 3 * 366


class WallClock:
    """Every hour counts: a queue without a calendar."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        return end - start

    def working(self, moment: datetime) -> bool:
        return True


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday (0 = Monday; intervals of local wall-clock time, `end` after
    `start`, an `end` of 00:00 meaning midnight) in `time_zone`, minus `holidays`."""

    time_zone: ZoneInfo
    hours: tuple[tuple[tuple[time, time], ...], ...]  # seven weekdays
    holidays: frozenset[date] = frozenset()

    def _intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The day's working intervals as UTC instants (none on a holiday)."""
        if day in self.holidays:
            return
        for start, end in self.hours[day.weekday()]:
            begin = datetime.combine(day, start, self.time_zone)
            finish = (
                datetime.combine(day + timedelta(days=1), time(0), self.time_zone)
                if end == time(0)
                else datetime.combine(day, end, self.time_zone)
            )
            # a wall-clock time that a DST jump skips is read with the offset before the jump
            yield begin.astimezone(UTC), finish.astimezone(UTC)

    def _from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals that end after `start`, clipped to begin no earlier."""
        day = start.astimezone(self.time_zone).date() - timedelta(days=1)  # an interval past midnight
        for offset in range(_HORIZON_DAYS):
            for begin, finish in self._intervals(day + timedelta(days=offset)):
                if finish > start:
                    yield max(begin, start), finish
        raise ValueError(f"no working time within {_HORIZON_DAYS} days of {start.isoformat()}")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (a deadline)."""
        remaining = duration
        for begin, finish in self._from(start):
            if remaining <= finish - begin:
                return begin + remaining
            remaining -= finish - begin
        raise AssertionError("unreachable: _from raises first")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from `start` to `end`, negative when `end` is earlier (overdue)."""
        if end < start:
            return -self.between(end, start)
        total = timedelta(0)
        for begin, finish in self._from(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
        return total

    def working(self, moment: datetime) -> bool:
        """Whether `moment` is inside working hours (a countdown runs only then)."""
        begin, _ = next(self._from(moment))
        return begin == moment
