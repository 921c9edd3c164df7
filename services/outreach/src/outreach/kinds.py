"""Every message kind outreach sends: its class, what triggers it, and the variables its
templates get (with sample values for the preview API and the template tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["COMMON_SAMPLE", "KINDS", "Kind", "MessageClass", "kind_of", "sample_context"]

MessageClass = Literal["transactional", "marketing"]

COMMON_SAMPLE: dict[str, Any] = {
    "first_name": "Anna",  # None when unknown: templates greet without a name then
    "shop_name": "Casa Verde",
    "shop_url": "https://shop.example.com/",
    "points_available": 1250,
    "points_pending": 120,
    "tier": "repeat_buyer",  # member | repeat_buyer | key_client
    "share_url": "https://r.example.com/r/ANNA-7K3Q",  # None while referrals has not issued a code
    "code": "ANNA-7K3Q",
    "unsubscribe_url": "https://outreach.example.com/unsubscribe/TOKEN",  # marketing kinds only, else None
}
"""Variables every template gets."""


@dataclass(frozen=True)
class Kind:
    """One kind of message."""

    name: str
    message_class: MessageClass
    trigger: str
    sample: dict[str, Any] = field(default_factory=dict)
    survey: bool = False
    thread: Literal["starts", "joins"] | None = None
    """a case's mail: the first of the case's thread (the apology), or one in reply to it"""


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "welcome",
            "transactional",
            "commerce.customer.registered.v1, sent `welcome_delay_minutes` later so the referral "
            "code has arrived; the share link is shown only with marketing consent",
            {"show_share_link": True},
        ),
        Kind(
            "purchase_thank_you",
            "transactional",
            "rewards.reward.granted.v1 of kind earn (points for an order)",
            {"order_id": "o-1042", "points": 42, "hold_until": "2026-12-07"},
        ),
        Kind(
            "reward_released",
            "transactional",
            "rewards.reward.released.v1 (a pending reward became available)",
            {
                "reward_kind": "earn",
                "points": 42,
                "credit": None,
            },  # credit: {"amount": "10.00", "currency": "EUR"}
        ),
        Kind(
            "referral_success",
            "transactional",
            "rewards.reward.granted.v1 of kind referral_advocate (a friend's first order qualified)",
            {"reward": "500 points", "hold_until": "2026-12-07"},
        ),
        Kind(
            "referral_welcome_reward",
            "transactional",
            "rewards.reward.granted.v1 of kind referral_friend (the friend's welcome reward)",
            {"reward": "€10.00 store credit", "hold_until": "2026-12-07"},
        ),
        Kind(
            "key_client_welcome",
            "marketing",
            "rewards.tier.changed.v1 into key_client",
            {"offer": "free express delivery on every order"},
        ),
        Kind(
            "tier_changed",
            "transactional",
            "rewards.tier.changed.v1 into another tier, or out of key_client",
            {"previous_tier": "member", "new_tier": "repeat_buyer", "upgrade": True},
        ),
        Kind(
            "check_in",
            "transactional",
            "commerce.order.completed.v1, `check_in_days` after the order; invites to the survey",
            {
                "order_id": "o-1042",
                "order_date": "2026-11-16",
                "survey_url": "https://survey.example.com/s?o=o-1042",
            },
            survey=True,
        ),
        Kind(
            "referral_ask",
            "marketing",
            "feedback.promoter.identified.v1 — never while a case is open, at most once per "
            "`referral_ask_every_days`; needs the share link",
            {},
        ),
        Kind(
            "apology",
            "transactional",
            "feedback.case.opened.v1",
            {"case_id": "c-77", "key_client": False},
            thread="starts",
        ),
        Kind(
            "case_follow_up",
            "transactional",
            "feedback.case.resolved.v1, naming any compensation",
            {
                "case_id": "c-77",
                "resolution": "refunded",
                "compensation": {"amount": "15.00", "currency": "EUR"},
            },  # compensation may be None
            thread="joins",
        ),
        Kind(
            "personal_reply",
            "transactional",
            "feedback.case.replied.v1: an agent's own words about the case, signed with their name, "
            "in the case's thread",
            {
                "case_id": "c-77",
                "message": "I'm so sorry about the broken mug.\nA new one left today.",
                "agent_name": "Olga",
            },
            thread="joins",
        ),
        Kind(
            "birthday",
            "marketing",
            "the customer's birthday, in their time zone, once a year",
            {},
        ),
        Kind(
            "anniversary",
            "marketing",
            "the anniversary of the registration, once a year",
            {"years": 2},
        ),
        Kind(
            "points_expiring",
            "transactional",
            "rewards.points.expiring.v1",
            {"points": 300, "expires_at": "2026-12-31"},
        ),
        Kind(
            "reward_revoked",
            "transactional",
            "rewards.reward.revoked.v1 — a clawback or a reversal, with its reason explained",
            {"points": 25, "credit": None, "reason": "order_partially_refunded"},
            # reason is one of: order_refunded, order_partially_refunded, referral_reversed (the
            # advocate's reward: the friend's order was refunded), welcome_reward_reversed (the
            # friend's: their own first order was refunded),
            # order_fully_refunded, order_refunded_below_minimum, points_expired, or another
            # snake_case code (templates then give a general sentence)
        ),
    )
}


def kind_of(name: str) -> Kind:
    """The kind called `name` (KeyError when there is none)."""
    return KINDS[name]


def sample_context(name: str) -> dict[str, Any]:
    """Sample variables for `name`: the common ones, the kind's own, no unsubscribe link for
    transactional kinds."""
    kind = KINDS[name]
    context = {**COMMON_SAMPLE, **kind.sample}
    if kind.message_class == "transactional":
        context["unsubscribe_url"] = None
    return context
