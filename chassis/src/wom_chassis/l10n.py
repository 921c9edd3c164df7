"""Numbers, money, dates and plural forms in a reader's language, as the Unicode CLDR writes them
(Babel): "15,00 €" in Romanian, "¥1,500" in English, "1 decembrie 2026", the Russian plural of
a count. Locale tags are BCP 47 as the events carry them (`ro-MD`, `sv`); one Babel does not know
falls back to its language, then to English. Templates get the same as Jinja filters
(`install_filters`), reading the locale from the template's `locale` variable."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

__all__ = [
    "format_day",
    "format_money",
    "format_number",
    "install_filters",
    "locale_of",
    "locale_within",
    "money_text",
    "money_value",
    "plural_form",
]

DEFAULT_LOCALE = "en"


@lru_cache(maxsize=256)
def locale_of(tag: str | None) -> Locale:
    """Babel's locale for a BCP 47 tag: the tag itself, else its language, else English."""
    for candidate in (tag, (tag or "").replace("_", "-").split("-")[0], DEFAULT_LOCALE):
        if candidate:
            try:
                return Locale.parse(candidate.replace("_", "-"), sep="-")
            except (UnknownLocaleError, ValueError):
                continue
    return Locale.parse(DEFAULT_LOCALE)


def locale_within(tag: str | None, language: str) -> str:
    """The tag to format in for text of `language`: the reader's own (`en-GB` dates in English
    text) where it is of that language, else the language itself."""
    own = (tag or "").replace("_", "-")
    return own if own.split("-")[0].lower() == language.split("-")[0].lower() else language


def format_money(amount: Decimal | int | str, currency: str, tag: str | None) -> str:
    """`amount` of `currency` with the currency's own decimals (two for EUR, none for JPY)."""
    return str(format_currency(Decimal(amount), currency, locale=locale_of(tag)))


def format_number(number: int | Decimal | float, tag: str | None) -> str:
    """A count or a quantity with the language's grouping and decimal signs: `1,250`, `1 250`."""
    return str(format_decimal(number, locale=locale_of(tag)))


def format_day(day: date | str, tag: str | None, length: str = "long") -> str:
    """A calendar day, `long` ("7 December 2026", "7 декабря 2026 г.") or `medium` ("7 Dec 2026")."""
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    elif isinstance(day, datetime):
        day = day.date()
    return str(format_date(day, format=length, locale=locale_of(tag)))


def plural_form(number: int | Decimal | float, tag: str | None) -> str:
    """The CLDR plural category of `number` in the language: `one`, `few`, `many` or `other`
    (and `zero`, `two` where a language has them)."""
    return str(locale_of(tag).plural_form(number))


def money_text(value: Any, tag: str | None) -> str:
    """A stored amount as the locale writes it: a `{"amount": …, "currency": …}` (what wom
    stores, `money_value`) formatted; text (an amount worded elsewhere, or before wom stored
    amounts so) as it is; nothing for None."""
    if value is None:
        return ""
    if isinstance(value, dict):
        try:
            return format_money(value["amount"], value["currency"], tag)
        except (KeyError, InvalidOperation, ValueError):
            pass
    return str(value)


def money_value(amount: Decimal | None, currency: str) -> dict[str, str] | None:
    """An amount as a template's data keeps it (JSON), to be worded by `money_text` in the reader's
    locale when the template is rendered."""
    return None if amount is None else {"amount": str(amount), "currency": currency}


def _money_filter(context: Context, value: Any, currency: str | None = None) -> str:
    """`{{ credit|money }}`: `money_text` in the template's locale; `{{ amount|money("JPY") }}`
    for an amount and its currency apart."""
    if currency is not None and value is not None:
        return format_money(value, currency, context.get("locale"))
    return money_text(value, context.get("locale"))


def _percent_filter(context: Context, value: Any, places: int = 1) -> str:
    """`{{ 0.253|percent }}`: "25.3%" in English, "25,3 %" in Romanian; a dash for no value."""
    if value is None:
        return "—"
    rounded = round(Decimal(str(value)), places + 2)  # the locale's pattern, up to `places` decimals
    return str(format_percent(rounded, locale=locale_of(context.get("locale")), decimal_quantization=False))


def _number_filter(context: Context, value: Any, places: int | None = None) -> str:
    """`{{ n|number }}`, `{{ ratio|number(4) }}` (up to four decimals); text as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return "" if value is None else str(value)
    if places is None:
        return format_number(value, context.get("locale"))
    pattern = "#,##0." + "#" * places if places else "#,##0"
    return str(format_decimal(value, format=pattern, locale=locale_of(context.get("locale"))))


def _day_filter(context: Context, value: Any, length: str = "long") -> str:
    if value is None or value == "":
        return ""
    try:
        return format_day(value, context.get("locale"), length)
    except (TypeError, ValueError):
        return str(value)


def _plural_filter(context: Context, value: Any, **forms: str) -> str:
    """`{{ n|plural(one="punct", few="puncte", other="de puncte") }}`: the word for the count's
    plural category, `other` where the category is not given."""
    category = plural_form(int(value or 0), context.get("locale"))
    return forms.get(category, forms.get("other", ""))


def install_filters(env: Environment) -> None:
    """Give `env`'s templates the filters `money`, `number`, `day`, `percent` and `plural`; they
    write in the locale of the template's `locale` variable (or global), English without one."""
    env.filters.update(
        money=pass_context(_money_filter),
        number=pass_context(_number_filter),
        day=pass_context(_day_filter),
        percent=pass_context(_percent_filter),
        plural=pass_context(_plural_filter),
    )
