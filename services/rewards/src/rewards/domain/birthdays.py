"""Birthday gifts: on the customer's own calendar day, in their time zone, once a year."""

from __future__ import annotations

import calendar
from datetime import date, datetime

from wom_chassis.time_zones import time_zone

__all__ = ["birthday_in", "is_birthday", "local_date"]


def local_date(now: datetime, timezone: str | None) -> date:
    """Today's date where the customer lives (UTC when the zone is unknown)."""
    return now.astimezone(time_zone(timezone)).date()


def birthday_in(birthday: date, year: int) -> date:
    """The day the birthday falls on in `year` (29 February becomes the 28th in other years)."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def is_birthday(birthday: date, today: date) -> bool:
    """True when `today` is the customer's birthday."""
    return birthday_in(birthday, today.year) == today
