"""Every fraud rule and the risk score, alone."""

from __future__ import annotations

from dataclasses import replace

import pytest
from referrals.domain.emails import is_disposable, normalise_email
from referrals.domain.fraud import Evidence, Party, assess, closes_a_ring, signals_of
from referrals.rules import DEFAULT_RULES_FILE, EmailRules, FraudRule, FraudRules, load_rules

RULES = load_rules(DEFAULT_RULES_FILE)
FRAUD = RULES.fraud
CLEAN = Evidence(
    advocate=Party(
        "anna",
        email_hash="a",
        ip_hash="ip-a",
        device_hash="dev-a",
        payment_fingerprints=frozenset({"card-a"}),
    ),
    friend=Party("ben", email_hash="b", ip_hash="ip-b", device_hash="dev-b"),
    friend_payment="card-b",
)


def fired(evidence: Evidence, rules: FraudRules = FRAUD) -> list[str]:
    return [signal.reason for signal in signals_of(evidence, rules)]


def test_a_clean_referral_fires_nothing_and_is_approved() -> None:
    assert fired(CLEAN) == []
    assert assess(CLEAN, FRAUD).decision == "approve" and assess(CLEAN, FRAUD).score == 0


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (replace(CLEAN, friend=replace(CLEAN.friend, customer_id="anna")), "self_referral_same_customer"),
        (replace(CLEAN, friend=replace(CLEAN.friend, email_hash="a")), "self_referral_same_email"),
        (replace(CLEAN, friend_payment="card-a"), "self_referral_same_payment"),
        (replace(CLEAN, friend=replace(CLEAN.friend, device_hash="dev-a")), "self_referral_same_device"),
        (replace(CLEAN, friend=replace(CLEAN.friend, ip_hash="ip-a")), "self_referral_same_ip"),
        (replace(CLEAN, friend=replace(CLEAN.friend, disposable_email=True)), "disposable_email"),
        (replace(CLEAN, other_friends_payments=frozenset({"card-b"})), "payment_shared_with_other_friend"),
        (replace(CLEAN, advocate_qualified_last_day=5), "velocity_daily"),
        (replace(CLEAN, advocate_qualified_last_week=20), "velocity_weekly"),
        (replace(CLEAN, ring=True), "referral_ring"),
    ],
)
def test_each_rule_fires_on_its_own_signal(evidence: Evidence, reason: str) -> None:
    assert fired(evidence) == [reason]


def test_missing_data_never_counts_as_a_match() -> None:
    unknown = replace(CLEAN, advocate=Party("anna"), friend=Party("ben"), friend_payment=None)
    assert fired(unknown) == []


def test_velocity_fires_at_the_limit_not_before() -> None:
    assert fired(replace(CLEAN, advocate_qualified_last_day=4)) == []
    assert fired(replace(CLEAN, advocate_qualified_last_week=19)) == []


@pytest.mark.parametrize(
    ("signals", "decision", "reason", "score"),
    [
        ({"ip_hash": "ip-a"}, "approve", None, 30),
        ({"disposable_email": True}, "approve", None, 40),
        ({"device_hash": "dev-a"}, "review", "risk_score_needs_review", 60),
        ({"ip_hash": "ip-a", "disposable_email": True}, "review", "risk_score_needs_review", 70),
        ({"ip_hash": "ip-a", "device_hash": "dev-a"}, "reject", "high_risk_score", 90),
        (
            {"ip_hash": "ip-a", "device_hash": "dev-a", "disposable_email": True},
            "reject",
            "high_risk_score",
            100,
        ),
    ],
)
def test_weak_signals_add_up_to_a_risk_score(
    signals: dict[str, object], decision: str, reason: str | None, score: int
) -> None:
    assessment = assess(replace(CLEAN, friend=replace(CLEAN.friend, **signals)), FRAUD)  # type: ignore[arg-type]
    assert (assessment.decision, assessment.reason, assessment.score) == (decision, reason, score)


def test_a_rejecting_rule_wins_over_the_score_and_review_rules() -> None:
    evidence = replace(
        CLEAN,
        friend_payment="card-a",
        advocate_qualified_last_day=9,
        friend=replace(CLEAN.friend, ip_hash="ip-a"),
    )
    assessment = assess(evidence, FRAUD)
    assert (assessment.decision, assessment.reason) == ("reject", "self_referral_same_payment")
    assert [s.reason for s in assessment.signals] == [
        "self_referral_same_payment",
        "self_referral_same_ip",
        "velocity_daily",
    ]


def test_a_review_rule_sends_to_review_whatever_the_score() -> None:
    assessment = assess(replace(CLEAN, advocate_qualified_last_week=25), FRAUD)
    assert (assessment.decision, assessment.reason, assessment.score) == ("review", "velocity_weekly", 0)


def test_actions_are_configurable() -> None:
    rules = FRAUD.model_copy(
        update={
            "self_referral_same_payment": FraudRule(action="review"),
            "self_referral_same_ip": FraudRule(action="off"),
        }
    )
    assert assess(replace(CLEAN, friend_payment="card-a"), rules).decision == "review"
    assert fired(replace(CLEAN, friend=replace(CLEAN.friend, ip_hash="ip-a")), rules) == []


def test_rings_of_any_length() -> None:
    assert closes_a_ring(["anna", "ben"], "ben")  # ben referred anna, now anna refers ben
    assert closes_a_ring(["anna", "carl", "ben"], "ben")
    assert not closes_a_ring(["anna", "carl"], "ben")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Anna.Smith@gmail.com", "annasmith@googlemail.com", True),
        ("anna.smith+deals@gmail.com", "ANNASMITH@gmail.com", True),
        ("anna+x@outlook.com", "anna@outlook.com", True),
        ("an.na@outlook.com", "anna@outlook.com", False),  # Outlook keeps dots
        ("anna+x@example.com", "anna@example.com", False),  # unknown providers keep tags
        ("ivan@ya.ru", "Ivan+shop@yandex.ru", True),
    ],
)
def test_emails_are_normalised_per_provider(a: str, b: str, same: bool) -> None:
    rules: EmailRules = RULES.email
    assert (normalise_email(a, rules) == normalise_email(b, rules)) is same


def test_disposable_domains_are_the_maintained_list_and_wom_s_additions() -> None:
    domains = RULES.disposable_domains()
    assert len(domains) > 10_000  # the disposable-email-domains package's list
    assert is_disposable("0815.ru", domains) and is_disposable("sharklasers.com", domains)
    assert is_disposable("33mail.com", domains) and is_disposable("x.sneakemail.com", domains)  # ours


def test_disposable_domains_and_their_subdomains() -> None:
    domains = RULES.disposable_domains()
    assert len(domains) > 100
    assert is_disposable("mailinator.com", domains) and is_disposable("x.yopmail.com", domains)
    assert not is_disposable("gmail.com", domains) and not is_disposable("com", domains)
