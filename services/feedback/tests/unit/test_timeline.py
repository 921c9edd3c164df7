"""The lines each event makes in the customers' timelines: every kind, both sides of a referral,
the facts an agent answers with and nothing of anyone's contact data or coupon codes."""

from __future__ import annotations

import json

from feedback.domain.timeline import TIMELINE_EVENTS, lines_of
from wom_contracts import CaseOpenedV1, CustomerErasedV1

from ..timeline_events import AT, hour, timeline_events


def test_every_event_the_timeline_shows_makes_its_lines() -> None:
    events = timeline_events()
    assert {type(event) for event in events} == set(TIMELINE_EVENTS)  # the sample covers every kind
    lines = [line for event in events for line in lines_of(event)]
    ana = [(line.kind, line.at) for line in lines if line.customer_id == "ana"]
    assert [kind for kind, _ in ana] == [
        "registered",
        "order_completed", "reward_granted", "message_sent", "tier_changed", "referral_code_issued",
        "referral_attributed", "referral_qualified", "reward_released", "order_refunded", "reward_revoked",
        "referral_reversed", "referral_rejected", "reward_withheld", "reward_redeemed", "points_expiring",
        "message_failed", "message_suppressed",
    ]  # fmt: skip
    assert [at for _, at in ana] == [hour(n) for n in range(-1, 17)]
    bo = [line for line in lines if line.customer_id == "bo"]
    assert [line.kind for line in bo] == [
        "referral_attributed", "referral_qualified", "referral_reversed", "referral_rejected"
    ]  # fmt: skip
    assert {line.other_customer_id for line in bo} == {"ana"}
    for line in lines:
        text = json.dumps(line.detail)  # what is stored is plain JSON
        assert "SECRET-COUPON" not in text and "share.example.com" not in text and "@" not in text
        assert "Ana" not in text and "203.0.113.9" not in text and "dev-1" not in text
        assert ("ana" in text, "bo" in text) == (False, False), line  # the other party is a column


def test_each_line_keeps_the_facts_support_answers_with() -> None:
    by_kind = {(line.customer_id, line.kind): line.detail for e in timeline_events() for line in lines_of(e)}
    assert by_kind["ana", "order_completed"] == {
        "order_id": "o-1", "total": {"amount": "42.50", "currency": "EUR"}, "items": 1, "channel": "web"
    }  # fmt: skip
    assert (
        by_kind["ana", "reward_granted"]["status"] == "pending"
        and by_kind["ana", "reward_granted"]["points"] == 40
    )
    assert by_kind["ana", "reward_revoked"]["reason"] == "order_fully_refunded"
    assert by_kind["ana", "reward_withheld"] == {
        "kind": "compensation", "reason": "budget_exhausted", "credit": {"amount": "42.50", "currency": "EUR"}
    }  # fmt: skip
    assert by_kind["ana", "referral_rejected"] == {
        "referral_id": "ref-1", "reason": "self_referral", "decided_by": "rules", "role": "advocate"
    }  # fmt: skip
    assert by_kind["bo", "referral_qualified"]["role"] == "friend"
    assert by_kind["bo", "referral_qualified"]["decided_by"] == "support-desk"
    assert by_kind["ana", "message_suppressed"]["reason"] == "no_consent"
    assert by_kind["ana", "reward_redeemed"]["balance"] == {"available": 120, "pending": 40}
    assert by_kind["ana", "tier_changed"] == {"previous_tier": "member", "tier": "key_client"}
    assert by_kind["ana", "registered"] == {
        "locale": "ro-MD",
        "marketing_consent": True,
        "referral_code": "BO-X7Q2",
    }


def test_events_the_timeline_does_not_show_make_no_lines() -> None:
    assert lines_of(CustomerErasedV1(customer_id="ana", requested_at=AT)) == []
    opened = CaseOpenedV1(
        customer_id="ana", case_id="c-1", response_id="r-1", priority="P1", queue="support", sla_due_at=AT,
        kind="nps", score=2, signals=[], key_client=False, occurred_at=AT,
    )  # fmt: skip
    assert lines_of(opened) == []  # feedback's own: read from its tables
