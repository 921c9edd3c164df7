"""The consent and frequency ledger as rules: who may get which message, and when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from wom_chassis.time_zones import time_zone

from outreach.rules import FrequencyCap, QuietHours

__all__ = [
    "Admission",
    "Situation",
    "admit",
    "cap_reached",
    "quiet_until",
    "referral_ask_problem",
    "survey_too_soon",
]


@dataclass(frozen=True)
class Situation:
    """What is known at send time about the customer and their messages."""

    now: datetime
    message_class: str
    marketing_consent: bool
    timezone: str | None
    marketing_sent: Sequence[datetime] = ()
    survey: bool = False
    last_survey_at: datetime | None = None
    referral_ask: bool = False
    open_case: bool = False
    last_referral_ask_at: datetime | None = None
    has_share_link: bool = True


@dataclass(frozen=True)
class Admission:
    """send now; wait until `until` (quiet hours); or suppress with a stable reason code."""

    action: str
    reason: str | None = None
    until: datetime | None = None


def cap_reached(sent: Sequence[datetime], now: datetime, cap: FrequencyCap) -> bool:
    """True when `cap.messages` marketing messages went out in the last `cap.days` days."""
    since = now - timedelta(days=cap.days)
    return sum(1 for moment in sent if since < moment <= now) >= cap.messages


def quiet_until(now: datetime, timezone: str | None, quiet: QuietHours) -> datetime | None:
    """The end of the quiet hours in the customer's time zone when `now` falls inside them
    (daylight saving included), else None."""
    zone = time_zone(timezone, quiet.default_timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    crosses_midnight = quiet.start > quiet.end
    inside = (
        (clock >= quiet.start or clock < quiet.end) if crosses_midnight else quiet.start <= clock < quiet.end
    )
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1) if crosses_midnight and clock >= quiet.start else local.date()
    # combining the local date and time in the zone picks the right offset on DST days
    return datetime.combine(end_day, quiet.end, tzinfo=zone).astimezone(now.tzinfo)


def survey_too_soon(last_survey_at: datetime | None, now: datetime, days: int) -> bool:
    """True when the customer was invited to a survey less than `days` days ago."""
    return last_survey_at is not None and now - last_survey_at < timedelta(days=days)


def referral_ask_problem(situation: Situation, every_days: int) -> str | None:
    """Why a referral ask may not go out now: an open case, an ask too recent, no link yet."""
    if situation.open_case:
        return "open_case"
    last = situation.last_referral_ask_at
    if last is not None and situation.now - last < timedelta(days=every_days):
        return "referral_asked_recently"
    if not situation.has_share_link:
        return "no_share_link"
    return None


def admit(
    situation: Situation,
    *,
    cap: FrequencyCap,
    quiet: QuietHours,
    survey_suppression_days: int,
    referral_ask_every_days: int,
) -> Admission:
    """One decision for one message at send time, reasons first, then the clock."""
    marketing = situation.message_class == "marketing"
    if marketing and not situation.marketing_consent:
        return Admission("suppress", "no_marketing_consent")
    if situation.referral_ask:
        problem = referral_ask_problem(situation, referral_ask_every_days)
        if problem:
            return Admission("suppress", problem)
    if situation.survey and survey_too_soon(situation.last_survey_at, situation.now, survey_suppression_days):
        return Admission("suppress", "survey_recently")
    if marketing and cap_reached(situation.marketing_sent, situation.now, cap):
        return Admission("suppress", "frequency_cap")
    if marketing or quiet.transactional:
        until = quiet_until(situation.now, situation.timezone, quiet)
        if until is not None:
            return Admission("wait", "quiet_hours", until)
    return Admission("send")
