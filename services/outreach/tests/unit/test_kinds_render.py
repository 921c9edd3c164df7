"""Every kind renders in every locale with its sample data, with and without a first name, and
only marketing kinds carry the unsubscribe link."""

from __future__ import annotations

import pytest
from outreach.kinds import KINDS, sample_context
from outreach.templates import Templates

LOCALES = ("en", "ru", "ro", "sv")
MONEY = {"en": "€15.00", "ru": "15,00\xa0€", "ro": "15,00\xa0EUR", "sv": "15,00\xa0€"}
TEMPLATES = Templates()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_in_every_locale(kind: str, locale: str) -> None:
    for first_name in ("Anna", None):
        context = {**sample_context(kind), "first_name": first_name}
        rendered = TEMPLATES.render(kind, locale, context)
        assert rendered.locale == locale, "no fallback for the four languages"
        assert rendered.subject and len(rendered.subject) <= 120
        assert "{{" not in rendered.text + rendered.html and "{%" not in rendered.text + rendered.html
        assert rendered.html.lstrip().startswith("<!doctype html>") and f'lang="{locale}"' in rendered.html
        assert ("Anna" in rendered.text) is (first_name is not None)
        marketing = KINDS[kind].message_class == "marketing"
        unsubscribe = context["unsubscribe_url"] or "/unsubscribe/"
        assert (unsubscribe in rendered.text) is marketing
        assert (unsubscribe in rendered.html) is marketing


@pytest.mark.parametrize("locale", LOCALES)
def test_kind_specific_facts_appear(locale: str) -> None:
    thank_you = TEMPLATES.render("purchase_thank_you", locale, sample_context("purchase_thank_you"))
    assert "42" in thank_you.subject + thank_you.text and "o-1042" in thank_you.text
    follow_up = TEMPLATES.render("case_follow_up", locale, sample_context("case_follow_up"))
    amount = MONEY[locale]  # the sample's 15.00 EUR as the locale writes it
    assert amount in follow_up.text and amount in follow_up.html
    ask = TEMPLATES.render("referral_ask", locale, sample_context("referral_ask"))
    assert "https://r.example.com/r/ANNA-7K3Q" in ask.text and "https://r.example.com/r/ANNA-7K3Q" in ask.html
    expiring = TEMPLATES.render("points_expiring", locale, sample_context("points_expiring"))
    assert "300" in expiring.text
    check_in = TEMPLATES.render("check_in", locale, sample_context("check_in"))
    assert "https://survey.example.com/s?o=o-1042" in check_in.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "reason",
    [
        "order_refunded",
        "order_partially_refunded",
        "referral_reversed",
        "welcome_reward_reversed",
        "order_fully_refunded",
        "order_refunded_below_minimum",
        "points_expired",
        "something_new",
    ],
)
def test_every_revocation_reason_is_explained(locale: str, reason: str) -> None:
    rendered = TEMPLATES.render(
        "reward_revoked", locale, {**sample_context("reward_revoked"), "reason": reason}
    )
    assert reason not in rendered.text, "the customer reads a sentence, not a code"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_reversed_referral_is_explained_to_each_side_from_their_side(locale: str) -> None:
    def why(reason: str) -> str:
        context = {**sample_context("reward_revoked"), "reason": reason}
        return TEMPLATES.render("reward_revoked", locale, context).text

    reasons = ("referral_reversed", "welcome_reward_reversed", "order_fully_refunded")
    sentences = {why(reason) for reason in reasons}
    assert len(sentences) == 3, "the advocate, the friend and a buyer are each told their own reason"


@pytest.mark.parametrize(
    ("locale", "credit", "expires", "available"),
    [
        ("en", "¥1,500", "December 31, 2026", "1,250"),
        ("en-GB", "¥1,500", "31 December 2026", "1,250"),
        ("ro-MD", "1.500\xa0JPY", "31 decembrie 2026", "1.250 de puncte"),
        ("ru", "1\xa0500\xa0¥", "31 декабря 2026\u202fг.", "1\xa0250 баллов"),
        ("sv", "1\xa0500\xa0JPY", "31 december 2026", "1\xa0250"),
    ],
)
def test_money_numbers_and_dates_are_written_as_the_customer_s_locale_writes_them(
    locale: str, credit: str, expires: str, available: str
) -> None:
    """Babel in every template: a currency's own decimals (no "1500.00 JPY"), the language's
    grouping, its date format, and the count's plural form; `en-GB` dates in an English template."""
    released = TEMPLATES.render(
        "reward_released", locale, {**sample_context("reward_released"), "points": 0,
                                    "credit": {"amount": "1500", "currency": "JPY"}},
    )  # fmt: skip
    assert credit in released.subject and credit in released.text
    expiring = TEMPLATES.render("points_expiring", locale, {**sample_context("points_expiring"),
                                                            "points_available": 1250})  # fmt: skip
    assert expires in expiring.text and expires in expiring.html
    assert available in expiring.text
