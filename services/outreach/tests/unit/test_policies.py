"""The consent and frequency ledger, rule by rule: consent, cap, quiet hours across time zones
and daylight saving, survey suppression, referral asks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from outreach.domain.policies import Situation, admit, cap_reached, quiet_until, survey_too_soon
from outreach.jobs import occurs_on
from outreach.rules import FrequencyCap, QuietHours

CAP = FrequencyCap(messages=3, days=7)
QUIET = QuietHours(start=time(21), end=time(8))
NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)
MARKETING = Situation(
    now=NOON, message_class="marketing", marketing_consent=True, timezone="Europe/Stockholm"
)


def decide(situation: Situation) -> tuple[str, str | None]:
    admission = admit(situation, cap=CAP, quiet=QUIET, survey_suppression_days=30, referral_ask_every_days=90)
    return admission.action, admission.reason


def test_marketing_needs_consent_transactional_does_not() -> None:
    assert decide(replace(MARKETING, marketing_consent=False)) == ("suppress", "no_marketing_consent")
    assert decide(replace(MARKETING, message_class="transactional", marketing_consent=False)) == (
        "send",
        None,
    )
    assert decide(MARKETING) == ("send", None)


def test_one_frequency_cap_across_marketing_kinds() -> None:
    sent = [NOON - timedelta(days=d) for d in (1, 3, 6)]
    assert cap_reached(sent, NOON, CAP)
    assert not cap_reached(sent[:2], NOON, CAP)
    assert not cap_reached([NOON - timedelta(days=8), *sent[:2]], NOON, CAP)  # older than the window
    assert decide(replace(MARKETING, marketing_sent=sent)) == ("suppress", "frequency_cap")
    transactional = replace(MARKETING, message_class="transactional", marketing_sent=sent)
    assert decide(transactional) == ("send", None), "transactional messages do not count against the cap"


@pytest.mark.parametrize(
    ("now", "zone", "until"),
    [
        # 22:30 in Stockholm (UTC+1 in winter) → waits until 08:00 local the next morning
        (
            datetime(2026, 11, 23, 21, 30, tzinfo=UTC),
            "Europe/Stockholm",
            datetime(2026, 11, 24, 7, tzinfo=UTC),
        ),
        # 07:59 in Chisinau (UTC+2) → waits one minute
        (datetime(2026, 11, 23, 5, 59, tzinfo=UTC), "Europe/Chisinau", datetime(2026, 11, 23, 6, tzinfo=UTC)),
        # 12:00 in Moscow → not quiet
        (datetime(2026, 11, 23, 9, tzinfo=UTC), "Europe/Moscow", None),
        # 22:00 in New York (UTC−5) → waits until 08:00 local, 13:00 UTC
        (datetime(2026, 11, 23, 3, tzinfo=UTC), "America/New_York", datetime(2026, 11, 23, 13, tzinfo=UTC)),
        # DST starts in Stockholm on 29 March 2026: 08:00 that morning is already UTC+2
        (datetime(2026, 3, 28, 22, tzinfo=UTC), "Europe/Stockholm", datetime(2026, 3, 29, 6, tzinfo=UTC)),
        # DST ends on 25 October 2026: 08:00 that morning is UTC+1 again
        (datetime(2026, 10, 24, 21, tzinfo=UTC), "Europe/Stockholm", datetime(2026, 10, 25, 7, tzinfo=UTC)),
        # an unknown zone falls back to the default (UTC): 23:00 UTC is quiet until 08:00 UTC
        (datetime(2026, 11, 23, 23, tzinfo=UTC), None, datetime(2026, 11, 24, 8, tzinfo=UTC)),
    ],
)
def test_quiet_hours_in_the_customers_time_zone(
    now: datetime, zone: str | None, until: datetime | None
) -> None:
    assert quiet_until(now, zone, QUIET) == until


def test_quiet_hours_defer_marketing_not_drop_it() -> None:
    night = replace(MARKETING, now=datetime(2026, 11, 23, 22, tzinfo=UTC))
    admission = admit(night, cap=CAP, quiet=QUIET, survey_suppression_days=30, referral_ask_every_days=90)
    assert (admission.action, admission.reason, admission.until) == (
        "wait",
        "quiet_hours",
        datetime(2026, 11, 24, 7, tzinfo=UTC),
    )
    assert decide(replace(night, message_class="transactional")) == ("send", None)


def test_a_daytime_window_works_too() -> None:
    lunch = QuietHours(start=time(12), end=time(13))
    assert quiet_until(datetime(2026, 11, 23, 12, 30, tzinfo=UTC), "UTC", lunch) == datetime(
        2026, 11, 23, 13, tzinfo=UTC
    )
    assert quiet_until(datetime(2026, 11, 23, 13, tzinfo=UTC), "UTC", lunch) is None


def test_survey_suppression() -> None:
    assert survey_too_soon(NOON - timedelta(days=29), NOON, 30)
    assert not survey_too_soon(NOON - timedelta(days=30), NOON, 30)
    assert not survey_too_soon(None, NOON, 30)
    check_in = replace(
        MARKETING, message_class="transactional", survey=True, last_survey_at=NOON - timedelta(days=3)
    )
    assert decide(check_in) == ("suppress", "survey_recently")


def test_referral_asks_never_during_a_case_and_not_too_often() -> None:
    ask = replace(MARKETING, referral_ask=True)
    assert decide(ask) == ("send", None)
    assert decide(replace(ask, open_case=True)) == ("suppress", "open_case")
    assert decide(replace(ask, last_referral_ask_at=NOON - timedelta(days=10))) == (
        "suppress",
        "referral_asked_recently",
    )
    assert decide(replace(ask, last_referral_ask_at=NOON - timedelta(days=91))) == ("send", None)
    assert decide(replace(ask, has_share_link=False)) == ("suppress", "no_share_link")
    assert decide(replace(ask, marketing_consent=False, open_case=True)) == (
        "suppress",
        "no_marketing_consent",
    )


def test_yearly_dates_and_29_february() -> None:
    assert occurs_on(date(1990, 11, 23), date(2026, 11, 23))
    assert not occurs_on(date(1990, 11, 23), date(2026, 11, 24))
    assert occurs_on(date(2000, 2, 29), date(2026, 2, 28))
    assert not occurs_on(date(2000, 2, 29), date(2028, 2, 28)) and occurs_on(
        date(2000, 2, 29), date(2028, 2, 29)
    )
