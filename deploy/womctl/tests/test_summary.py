"""The live summary of `make demo`: counted from outbound events, rendered with the counts and links."""

from __future__ import annotations

import json
from collections import Counter

from rich.console import Console
from womctl.summary import Tally, render


def count(tally: Tally, topic: str, **data: object) -> None:
    tally.count(topic, json.dumps({"customer_id": "c-1", **data}).encode())


def test_outbound_events_and_dead_letters_are_counted_by_kind_reason_and_priority() -> None:
    tally = Tally()
    count(tally, "rewards.reward.granted.v1", kind="earn", points=42)
    count(tally, "rewards.reward.granted.v1", kind="referral_friend", points=100)
    count(tally, "referrals.referral.qualified.v1")
    count(tally, "referrals.referral.rejected.v1", reason="self_referral_device")
    count(tally, "referrals.referral.rejected.v1", reason="self_referral_device")
    count(tally, "feedback.case.opened.v1", case_id="k-1", priority="P2")
    count(tally, "feedback.case.breached.v1", case_id="k-1", priority="P2")
    count(tally, "outreach.message.sent.v1", kind="thank_you")
    count(tally, "outreach.message.suppressed.v1", reason="no_consent")
    tally.count("feedback.dlq", b"{broken", [("dlq.reason", b"invalid_event")])
    tally.count("outreach.message.sent.v1", b"not json")  # ignored, not fatal
    assert tally.points_granted == 142 and tally.grants == Counter(earn=1, referral_friend=1)
    assert tally.qualified == 1 and tally.rejected == Counter(self_referral_device=2)
    assert tally.cases_opened == Counter(P2=1) and tally.sla_states("P2") == Counter(breached=1)
    assert tally.sent == Counter(thank_you=1) and tally.suppressed == Counter(no_consent=1)
    assert tally.dead_letters == Counter(feedback=1) and tally.dead_letter_reasons == Counter(invalid_event=1)


def test_the_screen_shows_the_counts_and_where_to_look() -> None:
    tally = Tally()
    count(tally, "rewards.reward.granted.v1", kind="earn", points=42)
    count(tally, "outreach.message.sent.v1", kind="welcome")
    count(tally, "referrals.referral.rejected.v1", reason="self_referral_ip")
    console = Console(width=160, record=True)
    console.print(render(tally, Counter(registration=3)))
    screen = console.export_text()
    for text in ("42 points granted", "1 mails sent", "self_referral_ip 1", "registration 3",
                 "http://127.0.0.1:8004/console", "demo / demo", "var/mail/",
                 "http://127.0.0.1:8001/analytics", "http://127.0.0.1:8004/analytics/summary"):  # fmt: skip
        assert text in screen, text


def test_cases_are_counted_by_priority_and_sla_state_whatever_order_their_events_come_in() -> None:
    tally = Tally()
    count(tally, "feedback.case.opened.v1", case_id="k-1", priority="P1")  # still within its SLA
    count(tally, "feedback.case.resolved.v1", case_id="k-2")  # read before its opening
    count(tally, "feedback.case.opened.v1", case_id="k-2", priority="P1")
    count(tally, "feedback.case.opened.v1", case_id="k-3", priority="P1")
    count(tally, "feedback.case.breached.v1", case_id="k-3", priority="P1")
    count(tally, "feedback.case.resolved.v1", case_id="k-3")
    count(tally, "feedback.case.resolved.v1", case_id="k-4")  # resolved, then its breach is read
    count(tally, "feedback.case.breached.v1", case_id="k-4", priority="P3")
    count(tally, "referrals.referral.reversed.v1", reason="order_fully_refunded")
    assert tally.cases_opened == Counter(P1=3, P3=1)
    assert tally.sla_states("P1") == Counter({"within SLA": 1, "resolved in time": 1, "resolved late": 1})
    assert tally.sla_states("P3") == Counter({"resolved late": 1})
    assert tally.reversed == 1
    console = Console(width=200, record=True)
    console.print(render(tally, agent=Counter({"resolved with store credit": 2})))
    screen = console.export_text()
    assert "P1 3 (" in screen and "resolved late 1" in screen and "1 reversed" in screen
    assert "support agent in the console: resolved with store credit 2" in screen
