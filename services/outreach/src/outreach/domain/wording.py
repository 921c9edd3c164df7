"""Words that depend on the language and on a number: how a reward is named."""

from __future__ import annotations

__all__ = ["LANGUAGES", "language_of", "points_phrase", "reward_phrase"]

LANGUAGES = ("en", "ru", "ro", "sv")


def language_of(chain: list[str]) -> str:
    """The first of the four languages in a locale fallback chain (English otherwise)."""
    return next((tag for tag in chain if tag in LANGUAGES), "en")


def _russian_points(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return "балл"
    return "балла" if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else "баллов"


def _romanian_points(n: int) -> str:
    if n == 1:
        return "punct"
    return "puncte" if n == 0 or 1 <= n % 100 <= 19 else "de puncte"


def points_phrase(language: str, n: int) -> str:
    """`42 points`, `42 poäng`, `42 балла`, `42 de puncte`."""
    if language == "ru":
        return f"{n} {_russian_points(n)}"
    if language == "ro":
        return f"{n} {_romanian_points(n)}"
    if language == "sv":
        return f"{n} poäng"
    return f"{n} point" if n == 1 else f"{n} points"


CREDIT = {"en": "{money} store credit", "ru": "{money} на бонусный счёт", "ro": "{money} credit în magazin",
          "sv": "{money} i tillgodohavande"}  # fmt: skip
COUPON = {
    "en": "a coupon ({code})",
    "ru": "купон {code}",
    "ro": "un cupon ({code})",
    "sv": "en kupong ({code})",
}
ANY = {"en": "a reward", "ru": "подарок", "ro": "o recompensă", "sv": "en belöning"}


def reward_phrase(language: str, *, points: int | None, credit: str | None, coupon_code: str | None) -> str:
    """A reward named in the customer's language: points, store credit or a coupon."""
    if points:
        return points_phrase(language, points)
    if credit:
        return CREDIT[language].format(money=credit)
    if coupon_code:
        return COUPON[language].format(code=coupon_code)
    return ANY[language]
