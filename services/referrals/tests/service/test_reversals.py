"""A qualifying order refunded inside the hold undoes the referral; after it, nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from wom_chassis import Service
from wom_contracts import Money, OrderRefundedV1, ReferralReversedV1
from wom_testkit import dead_letters, emitted, publish_event

from ..support import NOW, code_of, order, publish, refund, registered, the_referral


async def qualified_referral(service: Service, amount: str = "50.00") -> None:
    await publish(service, registered("anna", first_name="Anna"))
    await publish(
        service, registered("ben", code=await code_of(service, "anna")), order("ben", "o-1", amount)
    )
    assert (await the_referral(service, "ben")).status == "qualified"


@pytest.mark.parametrize(
    ("refunds", "reason"),
    [(["50.00"], "order_fully_refunded"), (["20.00", "15.00"], "order_refunded_below_minimum")],
)
async def test_a_refund_inside_the_hold_reverses(referrals: Service, refunds: list[str], reason: str) -> None:
    await qualified_referral(referrals)
    await publish(referrals, *(refund("ben", "o-1", amount) for amount in refunds))
    [reversed_] = await emitted(referrals, ReferralReversedV1)
    assert (reversed_.customer_id, reversed_.advocate_customer_id, reversed_.order_id, reversed_.reason) == (
        "ben",
        "anna",
        "o-1",
        reason,
    )
    assert (await the_referral(referrals, "ben")).status == "reversed"


async def test_a_small_refund_that_stays_above_the_minimum_changes_nothing(referrals: Service) -> None:
    await qualified_referral(referrals)
    await publish(
        referrals, refund("ben", "o-1", "10.00"), refund("ben", "o-1", "10.00")
    )  # one refund, twice
    assert await emitted(referrals, ReferralReversedV1) == []


async def test_a_refund_after_the_hold_changes_nothing(referrals: Service) -> None:
    await qualified_referral(referrals)
    late = OrderRefundedV1(
        customer_id="ben",
        refund_id="late",
        order_id="o-1",
        amount=Money(amount="50.00", currency="EUR"),
        refunded_at=NOW + timedelta(days=15),
    )
    await publish_event(referrals.broker, late)
    assert await emitted(referrals, ReferralReversedV1) == []
    assert (await the_referral(referrals, "ben")).status == "qualified"


async def test_a_refund_in_another_currency_is_dead_lettered(referrals: Service) -> None:
    await qualified_referral(referrals)
    wrong = OrderRefundedV1(
        customer_id="ben",
        refund_id="sek",
        order_id="o-1",
        amount=Money(amount="50.00", currency="SEK"),
        refunded_at=NOW,
    )
    before = dead_letters("referrals", "refund_currency_mismatch")
    await publish_event(referrals.broker, wrong)
    assert dead_letters("referrals", "refund_currency_mismatch") == before + 1
    assert await emitted(referrals, ReferralReversedV1) == []
