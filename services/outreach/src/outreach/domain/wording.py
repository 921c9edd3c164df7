"""Words that depend on the language and on a number: how a reward is named."""

from __future__ import annotations

from typing import Any

from wom_chassis.l10n import format_number, money_text, plural_form

__all__ = ["LANGUAGES", "language_of", "points_phrase", "reward_phrase"]

LANGUAGES = ("en", "ru", "ro", "sv")


def language_of(chain: list[str]) -> str:
    """The first of the four languages in a locale fallback chain (English otherwise)."""
    return next((tag for tag in chain if tag in LANGUAGES), "en")


# The noun after a count, by the CLDR plural category of the count in the language (Babel).
POINTS = {"en": {"one": "point", "other": "points"}, "sv": {"other": "poäng"},
          "ru": {"one": "балл", "few": "балла", "many": "баллов", "other": "балла"},
          "ro": {"one": "punct", "few": "puncte", "other": "de puncte"}}  # fmt: skip


def points_phrase(language: str, n: int, locale: str | None = None) -> str:
    """`1,250 points`, `42 poäng`, `42 балла`, `42 de puncte`: the count as `locale` (else the
    language) writes numbers, and the noun in the count's plural form."""
    tag = locale or language
    forms = POINTS[language]
    return f"{format_number(n, tag)} {forms.get(plural_form(n, tag), forms['other'])}"


CREDIT = {"en": "{money} store credit", "ru": "{money} на бонусный счёт", "ro": "{money} credit în magazin",
          "sv": "{money} i tillgodohavande"}  # fmt: skip
COUPON = {
    "en": "a coupon ({code})",
    "ru": "купон {code}",
    "ro": "un cupon ({code})",
    "sv": "en kupong ({code})",
}
ANY = {"en": "a reward", "ru": "подарок", "ro": "o recompensă", "sv": "en belöning"}


def reward_phrase(
    language: str, *, points: int | None, credit: Any, coupon_code: str | None, locale: str | None = None
) -> str:
    """A reward named in the customer's language: points, store credit (as `money_value` keeps
    it) or a coupon; numbers and money as `locale` writes them."""
    if points:
        return points_phrase(language, points, locale)
    if credit:
        return CREDIT[language].format(money=money_text(credit, locale or language))
    if coupon_code:
        return COUPON[language].format(code=coupon_code)
    return ANY[language]
