"""Fraud rules: each a stable reason code, each configurable, combined into one decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from referrals.rules import FraudRule, FraudRules

__all__ = [
    "CHAIN_LIMIT",
    "Assessment",
    "Decision",
    "Evidence",
    "Party",
    "Signal",
    "assess",
    "closes_a_ring",
    "signals_of",
]

Decision = Literal["approve", "review", "reject"]

CHAIN_LIMIT = 50
"""How far up a chain of advocates the ring rule looks."""


@dataclass(frozen=True)
class Party:
    """What the rules know of one side of a referral; personal data only as keyed hashes."""

    customer_id: str
    email_hash: str | None = None
    ip_hash: str | None = None
    device_hash: str | None = None
    disposable_email: bool = False
    payment_fingerprints: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Evidence:
    """Everything the fraud rules look at for one referral at qualification."""

    advocate: Party
    friend: Party
    friend_payment: str | None = None
    other_friends_payments: frozenset[str] = frozenset()
    advocate_qualified_last_day: int = 0
    advocate_qualified_last_week: int = 0
    ring: bool = False


@dataclass(frozen=True)
class Signal:
    """One rule that fired: its reason code, what it does, and why."""

    reason: str
    action: str
    weight: int
    detail: str


@dataclass(frozen=True)
class Assessment:
    """The outcome: approve, review or reject (with the deciding reason), the risk score and
    every signal that fired."""

    decision: Decision
    reason: str | None
    score: int
    signals: tuple[Signal, ...] = field(default_factory=tuple)


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and a == b


def closes_a_ring(advocate_chain: list[str], friend_id: str) -> bool:
    """True when the friend is already up the advocate's chain of advocates (A referred B and
    now B refers A, or longer: A → B → C → A)."""
    return friend_id in advocate_chain


def _checks(evidence: Evidence, rules: FraudRules) -> list[tuple[str, FraudRule, bool, str]]:
    advocate, friend = evidence.advocate, evidence.friend
    daily, weekly = rules.velocity_daily, rules.velocity_weekly
    return [
        (
            "self_referral_same_customer",
            rules.self_referral_same_customer,
            advocate.customer_id == friend.customer_id,
            "the friend is the advocate",
        ),
        (
            "self_referral_same_email",
            rules.self_referral_same_email,
            _same(advocate.email_hash, friend.email_hash),
            "both accounts have the same mailbox (after normalisation)",
        ),
        (
            "self_referral_same_payment",
            rules.self_referral_same_payment,
            evidence.friend_payment is not None and evidence.friend_payment in advocate.payment_fingerprints,
            "the friend paid with a payment method the advocate has used",
        ),
        (
            "self_referral_same_device",
            rules.self_referral_same_device,
            _same(advocate.device_hash, friend.device_hash),
            "both registered from the same device",
        ),
        (
            "self_referral_same_ip",
            rules.self_referral_same_ip,
            _same(advocate.ip_hash, friend.ip_hash),
            "both registered from the same IP address",
        ),
        (
            "disposable_email",
            rules.disposable_email,
            friend.disposable_email,
            "the friend registered with a disposable email domain",
        ),
        (
            "payment_shared_with_other_friend",
            rules.payment_shared_with_other_friend,
            evidence.friend_payment is not None
            and evidence.friend_payment in evidence.other_friends_payments,
            "another friend of this advocate paid with the same payment method",
        ),
        (
            "velocity_daily",
            daily,
            evidence.advocate_qualified_last_day >= daily.limit,
            f"{evidence.advocate_qualified_last_day} qualified referrals in the last day "
            f"(limit {daily.limit})",
        ),
        (
            "velocity_weekly",
            weekly,
            evidence.advocate_qualified_last_week >= weekly.limit,
            f"{evidence.advocate_qualified_last_week} qualified referrals in the last 7 days "
            f"(limit {weekly.limit})",
        ),
        ("referral_ring", rules.referral_ring, evidence.ring, "the friend referred the advocate (a ring)"),
    ]


def signals_of(evidence: Evidence, rules: FraudRules) -> list[Signal]:
    """Every enabled rule that fires for this referral, in the order of the rules file."""
    return [
        Signal(reason, rule.action, rule.weight if rule.action == "score" else 0, detail)
        for reason, rule, fired, detail in _checks(evidence, rules)
        if fired and rule.action != "off"
    ]


def assess(evidence: Evidence, rules: FraudRules) -> Assessment:
    """Reject on the first rejecting rule; otherwise the weak signals add up to a risk score
    (0–100) that approves, sends to review or rejects at the configured thresholds; a rule
    whose action is review sends to review whatever the score."""
    signals = tuple(signals_of(evidence, rules))
    score = min(100, sum(signal.weight for signal in signals))
    rejecting = [signal for signal in signals if signal.action == "reject"]
    if rejecting:
        return Assessment("reject", rejecting[0].reason, score, signals)
    if score >= rules.score.reject_at:
        return Assessment("reject", "high_risk_score", score, signals)
    reviewing = [signal for signal in signals if signal.action == "review"]
    if reviewing:
        return Assessment("review", reviewing[0].reason, score, signals)
    if score >= rules.score.review_at:
        return Assessment("review", "risk_score_needs_review", score, signals)
    return Assessment("approve", None, score, signals)
