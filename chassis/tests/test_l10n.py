"""Numbers, money, dates and plurals per locale, as the CLDR writes them (through Babel)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from wom_chassis.l10n import (
    format_day,
    format_money,
    format_number,
    install_filters,
    locale_of,
    money_value,
    plural_form,
)

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("tag", "eur", "jpy"),
    [
        ("en", "€15.00", "¥1,500"),
        ("en-GB", "€15.00", "JP¥1,500"),
        ("ro", f"15,00{NBSP}EUR", f"1.500{NBSP}JPY"),
        ("ro-MD", f"15,00{NBSP}EUR", f"1.500{NBSP}JPY"),
        ("ru", f"15,00{NBSP}€", f"1{NBSP}500{NBSP}¥"),
        ("sv", f"15,00{NBSP}€", f"1{NBSP}500{NBSP}JPY"),
        ("de-CH", f"EUR{NBSP}15.00", f"¥{NBSP}1'500"),
    ],
)
def test_money_takes_the_currency_s_decimals_and_the_locale_s_signs(tag: str, eur: str, jpy: str) -> None:
    assert format_money(Decimal("15"), "EUR", tag) == eur
    assert format_money("1500", "JPY", tag) == jpy  # no minor unit: "¥1,500", never "1500.00 JPY"


def test_numbers_and_days_in_each_language() -> None:
    assert [format_number(1250, tag) for tag in ("en", "ro", "ru", "sv")] == [
        "1,250", "1.250", f"1{NBSP}250", f"1{NBSP}250",
    ]  # fmt: skip
    day = date(2026, 12, 7)
    assert format_day(day, "en") == "December 7, 2026"
    assert format_day(day, "en-GB") == "7 December 2026"
    assert format_day("2026-12-07", "ro") == "7 decembrie 2026"
    assert format_day("2026-12-07T10:00:00+00:00", "ru") == "7 декабря 2026\u202fг."
    assert format_day(day, "sv", "medium") == "7 dec. 2026"


def test_plural_categories_are_the_cldr_s() -> None:
    assert [plural_form(n, "ru") for n in (1, 2, 5, 11, 21, 22, 112)] == [
        "one", "few", "many", "many", "one", "few", "many",
    ]  # fmt: skip
    assert [plural_form(n, "ro") for n in (0, 1, 2, 19, 20, 101, 119, 120)] == [
        "few", "one", "few", "few", "other", "few", "few", "other",
    ]  # fmt: skip
    assert [plural_form(n, "en") for n in (0, 1, 2)] == ["other", "one", "other"]


def test_an_unknown_locale_falls_back_to_its_language_then_english() -> None:
    assert str(locale_of("ro-XX")) in {"ro", "ro_XX"} and locale_of("ro-XX").language == "ro"
    assert str(locale_of("tlh-Klingon")) == "en" and str(locale_of(None)) == "en"
    assert str(locale_of("not a tag")) == "en"
    assert format_money("15", "EUR", "xx") == "€15.00"


def test_the_filters_write_in_the_template_s_locale() -> None:
    env = ImmutableSandboxedEnvironment()
    install_filters(env)
    template = env.from_string(
        "{{ credit|money }} · {{ points|number }} "
        "{{ points|plural(one='punct', few='puncte', other='de puncte') }}"
        " · {{ until|day }} · {{ text|money }} · {{ none|money }}|"
    )
    values = {"credit": money_value(Decimal("10.5"), "EUR"), "points": 1250, "until": "2026-12-07",
              "text": "10.00 EUR", "none": None}  # fmt: skip
    assert template.render(values, locale="ro") == (
        f"10,50{NBSP}EUR · 1.250 de puncte · 7 decembrie 2026 · 10.00 EUR · |"
    )
    assert template.render(values, locale="en").startswith("€10.50 · 1,250 de puncte · December 7, 2026")
    assert money_value(None, "EUR") is None
    apart = env.from_string(
        "{{ 1500|money('JPY') }} {{ 0.2534|percent }} {{ none|percent }} {{ k|number(4) }}"
    )
    assert apart.render(locale="en", none=None, k=1234.83333) == "¥1,500 25.3% — 1,234.8333"
    assert apart.render(locale="ro", none=None, k=0.5) == f"1.500{NBSP}JPY 25,3{NBSP}% — 0,5"
