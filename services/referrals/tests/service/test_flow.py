"""The referral paths through the real consume path: attribution, qualification, rejection,
review, reversal."""

from __future__ import annotations

from datetime import timedelta

from referrals.domain.codes import code_candidates
from wom_chassis import Service
from wom_contracts import (
    CodeIssuedV1,
    ReferralAttributedV1,
    ReferralQualifiedV1,
    ReferralRejectedV1,
)
from wom_testkit import emitted

from ..support import NOW, code_of, order, publish, registered, the_referral


async def test_a_friend_who_signs_up_with_a_code_and_buys_qualifies(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"))
    code = await code_of(referrals, "anna")
    assert code.startswith("ANNA-") and len(code) == 9
    [issued] = await emitted(referrals, CodeIssuedV1)
    assert issued.code == code and str(issued.share_url) == f"https://r.example.com/r/{code}"

    await publish(
        referrals, registered("ben", code=code.lower()), order("ben", "o-1", "50.00", payment="fp-ben")
    )
    [attributed] = await emitted(referrals, ReferralAttributedV1)
    assert (attributed.customer_id, attributed.advocate_customer_id, attributed.source) == (
        "ben",
        "anna",
        "registration",
    )
    [qualified] = await emitted(referrals, ReferralQualifiedV1)
    assert qualified.referral_id == attributed.referral_id
    assert qualified.order_id == "o-1" and qualified.order_total.amount == 50
    assert qualified.hold_until == NOW + timedelta(minutes=5) + timedelta(days=14)
    assert qualified.risk_score == 0
    assert (await the_referral(referrals, "ben")).status == "qualified"
    assert await emitted(referrals, ReferralRejectedV1) == []


async def test_a_code_at_checkout_attributes_the_friend_and_the_first_valid_code_wins(
    referrals: Service,
) -> None:
    await publish(referrals, registered("anna", first_name="Anna"), registered("carl", first_name="Carl"))
    anna, carl = await code_of(referrals, "anna"), await code_of(referrals, "carl")
    await publish(
        referrals, registered("ben"), order("ben", "o-1", code=anna), order("ben", "o-2", code=carl)
    )
    [attributed] = await emitted(referrals, ReferralAttributedV1)
    assert (attributed.advocate_customer_id, attributed.source) == ("anna", "checkout")
    referral = await the_referral(referrals, "ben")
    assert (referral.status, referral.order_id) == ("qualified", "o-1")


async def test_a_code_used_before_its_owner_is_known_waits_and_then_counts(referrals: Service) -> None:
    # events about different customers arrive in any order: ben's sign-up overtakes anna's
    expected = next(code_candidates("anna", "ANNA", key=b"test-key", length=4))
    await publish(referrals, registered("ben", code=expected), order("ben", "o-1", "30.00"))
    assert await emitted(referrals, ReferralAttributedV1) == []
    await publish(referrals, registered("anna", first_name="Anna"))
    assert await code_of(referrals, "anna") == expected
    [attributed] = await emitted(referrals, ReferralAttributedV1)
    assert attributed.customer_id == "ben" and attributed.occurred_at == NOW
    [qualified] = await emitted(referrals, ReferralQualifiedV1)
    assert qualified.order_id == "o-1"


async def test_a_first_order_that_arrives_before_the_registration_waits_for_it(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"))
    code = await code_of(referrals, "anna")
    await publish(referrals, order("ben", "o-1", code=code))
    assert (await the_referral(referrals, "ben")).status == "attributed"  # fraud rules need the sign-up
    await publish(referrals, registered("ben"))
    assert (await the_referral(referrals, "ben")).status == "qualified"


async def test_a_registration_published_twice_keeps_one_code(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"), registered("anna", first_name="Anna"))
    assert len(await emitted(referrals, CodeIssuedV1)) == 1


async def test_codes_are_unique_even_for_customers_with_the_same_name(referrals: Service) -> None:
    await publish(referrals, *(registered(f"anna-{i}", first_name="Anna") for i in range(30)))
    codes = {event.code for event in await emitted(referrals, CodeIssuedV1)}
    assert len(codes) == 30 and all(code.startswith("ANNA-") for code in codes)
