"""Every way a referral is rejected, through the real consume path, each with its reason code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from wom_chassis import Service
from wom_contracts import CustomerErasedV1, ReferralAttributedV1, ReferralQualifiedV1, ReferralRejectedV1
from wom_testkit import emitted, publish_event

from ..conftest import ReferralsFactory
from ..support import NOW, code_of, order, publish, refund, registered, the_referral


async def rejection(service: Service) -> ReferralRejectedV1:
    [rejected] = await emitted(service, ReferralRejectedV1)
    assert await emitted(service, ReferralQualifiedV1) == []
    return rejected


async def anna_refers_ben(service: Service, *, anna: dict[str, Any], ben: dict[str, Any]) -> str:
    await publish(service, registered("anna", first_name="Anna", **anna))
    code = await code_of(service, "anna")
    await publish(service, registered("ben", code=code, **ben))
    return code


async def test_own_code_is_rejected_and_does_not_block_a_friends_code(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"), registered("carl", first_name="Carl"))
    anna, carl = await code_of(referrals, "anna"), await code_of(referrals, "carl")
    await publish(referrals, order("anna", "o-1", code=anna))
    rejected = await rejection(referrals)
    assert (rejected.customer_id, rejected.reason) == ("anna", "self_referral_same_customer")
    # anna's own code was refused; carl's code on the same first order counts no more (it is not
    # anna's first order), but the attribution itself is valid and decided like any other
    await publish(referrals, order("anna", "o-2", code=carl))
    assert (await the_referral(referrals, "anna")).advocate_id == "carl"


async def test_same_mailbox_after_normalisation(referrals: Service) -> None:
    await anna_refers_ben(
        referrals, anna={"email": "anna.smith@gmail.com"}, ben={"email": "AnnaSmith+deal@googlemail.com"}
    )
    await publish(referrals, order("ben", "o-1"))
    assert (await rejection(referrals)).reason == "self_referral_same_email"


async def test_same_payment_method_as_the_advocate(referrals: Service) -> None:
    await anna_refers_ben(referrals, anna={}, ben={})
    await publish(referrals, order("anna", "o-a", payment="card-1"), order("ben", "o-1", payment="card-1"))
    assert (await rejection(referrals)).reason == "self_referral_same_payment"


async def test_same_device_and_ip_add_up_to_a_rejection(referrals: Service) -> None:
    same = {"device": "dev-1", "ip": "203.0.113.7"}
    await anna_refers_ben(referrals, anna=same, ben=same)
    await publish(referrals, order("ben", "o-1"))
    rejected = await rejection(referrals)
    assert (rejected.reason, rejected.risk_score) == ("high_risk_score", 90)
    assert "same device" in (rejected.detail or "") and "same IP" in (rejected.detail or "")


async def test_a_ring_is_rejected(referrals: Service) -> None:
    # anna referred ben; later ben's code is applied to anna's first order
    await anna_refers_ben(referrals, anna={}, ben={})
    await publish(referrals, order("ben", "o-1"))
    assert (await the_referral(referrals, "ben")).status == "qualified"
    await publish(referrals, order("anna", "o-2", code=await code_of(referrals, "ben")))
    [rejected] = await emitted(referrals, ReferralRejectedV1)
    assert (rejected.customer_id, rejected.advocate_customer_id, rejected.reason) == (
        "anna",
        "ben",
        "referral_ring",
    )


@pytest.mark.parametrize(
    ("friend_order", "reason"),
    [
        ({"amount": "19.99"}, "below_minimum_order"),
        ({"when": NOW + timedelta(days=61)}, "outside_window"),
        ({"when": NOW - timedelta(days=1)}, "not_first_order"),
    ],
)
async def test_qualification_rules(referrals: Service, friend_order: dict[str, Any], reason: str) -> None:
    await anna_refers_ben(referrals, anna={}, ben={})
    await publish(referrals, order("ben", "o-1", **friend_order))
    assert (await rejection(referrals)).reason == reason


async def test_an_existing_customer_applying_a_code_is_not_a_new_customer(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"), registered("ben"))
    await publish(referrals, order("ben", "o-1"), order("ben", "o-2", code=await code_of(referrals, "anna")))
    assert (await rejection(referrals)).reason == "not_first_order"


async def test_an_order_refunded_before_it_arrived_does_not_qualify(referrals: Service) -> None:
    await anna_refers_ben(referrals, anna={}, ben={})
    await publish(referrals, refund("ben", "o-1", "50.00"), order("ben", "o-1", "50.00"))
    assert (await rejection(referrals)).reason == "order_refunded"


async def test_an_erased_advocate_earns_nothing(referrals: Service) -> None:
    await anna_refers_ben(referrals, anna={}, ben={})
    await publish_event(referrals.broker, CustomerErasedV1(customer_id="anna", requested_at=NOW))
    await publish(referrals, order("ben", "o-1"))
    rejected = await rejection(referrals)
    assert rejected.reason == "advocate_erased" and rejected.advocate_customer_id.startswith("erased-")


async def test_velocity_sends_the_next_referral_to_review(make_referrals: ReferralsFactory) -> None:
    async with make_referrals({"fraud": {"velocity_daily": {"action": "reject", "limit": 2}}}) as service:
        await publish(service, registered("anna", first_name="Anna"))
        code = await code_of(service, "anna")
        for i in range(3):
            await publish(service, registered(f"f{i}", code=code), order(f"f{i}", f"o-{i}"))
        assert len(await emitted(service, ReferralQualifiedV1)) == 2
        [rejected] = await emitted(service, ReferralRejectedV1)
        assert (rejected.customer_id, rejected.reason) == ("f2", "velocity_daily")


async def test_a_rule_switched_off_does_not_fire(make_referrals: ReferralsFactory) -> None:
    async with make_referrals({"fraud": {"self_referral_same_payment": {"action": "off"}}}) as service:
        await anna_refers_ben(service, anna={}, ben={})
        await publish(service, order("anna", "o-a", payment="card-1"), order("ben", "o-1", payment="card-1"))
        [qualified] = await emitted(service, ReferralQualifiedV1)
        assert qualified.customer_id == "ben"


async def test_an_unknown_code_attributes_nobody(referrals: Service) -> None:
    await publish(referrals, registered("ben", code="NOBODY-2222"), order("ben", "o-1", code="NOBODY-2222"))
    assert await emitted(referrals, ReferralAttributedV1) == []
    assert await emitted(referrals, ReferralRejectedV1) == []
