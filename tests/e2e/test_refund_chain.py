"""End to end: the one refund chain of rewards, on a real broker with rewards as a real process.

Published the way an upstream shop would (plain aiokafka, CloudEvents headers by hand);
observed only from outside: the outbound topics and the HTTP API.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from wom_testkit import bound, eventually

from tests.support import publish_as_shop, read_topic

pytestmark = pytest.mark.e2e


def _at(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def test_refunds_and_a_reversed_referral_take_back_exactly_what_was_given(
    kafka_bootstrap: str, run_service: Any, producer: Any
) -> None:
    rewards = run_service("rewards", RELEASE_EVERY_SECONDS="0.5")
    rewards.wait_healthy()
    run = uuid.uuid4().hex[:6]
    anna, ben = f"anna-{run}", f"ben-{run}"

    async def publish(event_type: str, customer: str, data: dict[str, Any]) -> None:
        await publish_as_shop(producer, event_type, customer, data)

    async def refund(customer: str, refund_id: str, order_id: str, amount: str) -> None:
        await publish(
            "commerce.order.refunded.v1",
            customer,
            {
                "refund_id": refund_id,
                "order_id": order_id,
                "amount": {"amount": amount, "currency": "EUR"},
                "refunded_at": _at(),
            },
        )

    def balance(customer: str) -> dict[str, Any]:
        return rewards.get(f"/customers/{customer}/balance")  # type: ignore[no-any-return]

    # anna's order is past its return window: its 100 points are released
    await publish(
        "commerce.order.completed.v1",
        anna,
        {
            "order_id": f"{run}-o1",
            "total": {"amount": "100.00", "currency": "EUR"},
            "completed_at": _at(timedelta(days=-20)),
        },
    )
    await eventually(lambda: balance(anna)["points"] == {"available": 100, "pending": 0}, timeout=bound(30))
    # a partial refund, the same refund published twice, then more than is left
    await refund(anna, f"{run}-r1", f"{run}-o1", "25.00")
    await refund(anna, f"{run}-r1", f"{run}-o1", "25.00")
    await refund(anna, f"{run}-r2", f"{run}-o1", "100.00")
    # ben's refund comes before his order: it waits, and is applied when the order arrives
    await refund(ben, f"{run}-r3", f"{run}-o2", "10.00")
    await publish(
        "commerce.order.completed.v1",
        ben,
        {"order_id": f"{run}-o2", "total": {"amount": "40.00", "currency": "EUR"}, "completed_at": _at()},
    )
    await eventually(lambda: balance(ben)["points"] == {"available": 0, "pending": 30}, timeout=bound(30))
    # anna referred ben; the hold is over, both are released; then the referral is reversed
    referral = {"referral_id": f"{run}-ref", "advocate_customer_id": anna, "order_id": f"{run}-o2"}
    await publish(
        "referrals.referral.qualified.v1",
        ben,
        {
            **referral,
            "order_total": {"amount": "40.00", "currency": "EUR"},
            "hold_until": _at(timedelta(days=-1)),
            "occurred_at": _at(),
        },
    )
    await eventually(lambda: balance(anna)["points"]["available"] == 500, timeout=bound(30))
    await eventually(
        lambda: balance(ben)["credit"] == [{"currency": "EUR", "available": "10.00", "pending": "0.00"}]
    )
    await publish(
        "referrals.referral.reversed.v1", ben, {**referral, "reason": "order_refunded", "occurred_at": _at()}
    )
    await eventually(lambda: balance(anna)["points"]["available"] == 0, timeout=bound(30))
    zero = [{"currency": "EUR", "available": "0.00", "pending": "0.00"}]
    await eventually(lambda: balance(ben)["credit"] == zero, timeout=bound(30))

    reasons = sorted(e["reason"] for e in rewards.get(f"/customers/{anna}/ledger")["entries"])
    assert reasons == [
        "order_partially_refunded",
        "order_refunded",
        "order_refunded",
        "purchase",
        "referral_advocate_reward",
    ]

    def mine(records: list[Any]) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in records if r.key in (anna.encode(), ben.encode())]

    revoked = mine(
        await read_topic(kafka_bootstrap, "rewards.reward.revoked.v1", until=lambda rs: len(mine(rs)) >= 5)
    )
    taken = sorted(
        (e["customer_id"] == anna, e.get("points", 0), e["reason"], "credit" in e) for e in revoked
    )
    assert taken == [
        (False, 0, "order_refunded", True),  # ben's 10 EUR friend credit
        (False, 10, "order_partially_refunded", False),
        (True, 25, "order_partially_refunded", False),
        (True, 75, "order_refunded", False),  # never more than the 100 granted
        (True, 500, "order_refunded", False),  # the referral, taken back after release
    ]
    released = mine(
        await read_topic(kafka_bootstrap, "rewards.reward.released.v1", until=lambda rs: len(mine(rs)) >= 3)
    )
    assert sorted((e["kind"], e.get("points", 0)) for e in released) == [
        ("earn", 100),
        ("referral_advocate", 500),
        ("referral_friend", 0),  # 10 EUR of credit
    ]
