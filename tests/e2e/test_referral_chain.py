"""End to end: a referral chain A → B → C through referrals as a real process on a real broker.

Published the way an upstream shop would (plain aiokafka, CloudEvents headers by hand); observed
only from outside: the outbound topics, the share links and the analytics API. The broker is this
test's own, so the K-factor counts only this chain.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from wom_testkit import bound, eventually
from womctl.broker import EmbeddedBroker
from womctl.topics import create_topics

from tests.support import publish_as_shop, read_topic

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_broker() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap))
        yield broker.bootstrap


@pytest.fixture
async def shop(own_broker: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=own_broker, enable_idempotence=False, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def _at(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def test_a_chain_of_three_is_attributed_qualified_and_counted(
    own_broker: str, run_service: Any, shop: AIOKafkaProducer
) -> None:
    referrals = run_service(
        "referrals",
        KAFKA_BOOTSTRAP_SERVERS=own_broker,
        REFERRALS_PUBLIC_URL="https://r.example.com",
        REFERRALS_STOREFRONT_URL="https://shop.example.com/",
        REFERRALS_HASH_SECRET=uuid.uuid4().hex,
    )
    referrals.wait_healthy()

    async def publish(event_type: str, customer: str, data: dict[str, Any]) -> None:
        await publish_as_shop(shop, event_type, customer, data)

    async def register(customer: str, name: str, code: str | None = None) -> None:
        data = {"email": f"{customer}@example.com", "first_name": name, "registered_at": _at()}
        await publish("commerce.customer.registered.v1", customer, {**data, "referral_code": code})

    async def buy(customer: str, order_id: str, amount: str, code: str | None = None) -> None:
        data = {"order_id": order_id, "total": {"amount": amount, "currency": "EUR"}, "completed_at": _at()}
        await publish("commerce.order.completed.v1", customer, {**data, "referral_code": code})

    async def outbound(topic: str, count: int) -> list[dict[str, Any]]:
        records = await read_topic(own_broker, topic, until=lambda rs: len(rs) >= count, timeout=bound(30))
        return [json.loads(record.value) for record in records]

    def click(code: str, agent: str) -> None:
        answer = httpx.get(f"{referrals.url}/r/{code}", headers={"user-agent": agent})
        assert answer.status_code == 302 and answer.headers["location"].endswith(f"?ref={code}")

    # A signs up and shares her link; two people click it
    await register("anna", "Anna")
    [issued] = await outbound("referrals.code.issued.v1", 1)
    code_a = issued["code"]
    assert code_a.startswith("ANNA-") and issued["share_url"] == f"https://r.example.com/r/{code_a}"
    click(code_a, "phone")
    click(code_a, "laptop")
    # B signs up with it and buys: attributed, then qualified
    await register("ben", "Ben", code_a.lower())
    await buy("ben", "o-b1", "60.00")
    code_b = (await eventually(lambda: _code(referrals, "ben"), timeout=bound(30)))["code"]
    # B shares on WhatsApp; C clicks, applies B's code at checkout, then the sign-up arrives
    whatsapp = _code(referrals, "ben")["channels"]["whatsapp"]
    assert f"r.example.com%2Fr%2F{code_b}%3Fvia%3Dwhatsapp" in whatsapp
    click(code_b, "tablet")
    await buy("carl", "o-c1", "25.00", code_b)
    await register("carl", "Carl")

    attributed = await outbound("referrals.referral.attributed.v1", 2)
    assert sorted((e["customer_id"], e["advocate_customer_id"], e["source"]) for e in attributed) == [
        ("ben", "anna", "registration"),
        ("carl", "ben", "checkout"),
    ]
    qualified = await outbound("referrals.referral.qualified.v1", 2)
    assert sorted((e["customer_id"], e["advocate_customer_id"], e["order_id"]) for e in qualified) == [
        ("ben", "anna", "o-b1"),
        ("carl", "ben", "o-c1"),
    ]
    for event in qualified:
        hold = datetime.fromisoformat(event["hold_until"]) - datetime.now(UTC)
        assert timedelta(days=13) < hold <= timedelta(days=14)

    summary = await eventually(lambda: _summary_with(referrals, qualified=2), timeout=bound(30))
    k = summary["k_factor"]
    assert (k["customers"], k["invitations"], k["signups"], k["qualified"]) == (3, 3, 2, 2)
    assert k["invitation_rate"] == pytest.approx(1.0)
    assert k["conversion_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert k["k_factor"] == pytest.approx(2 / 3, abs=1e-4)
    assert k["k_factor_qualified"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["chain_depth"]["max_depth"] == 2
    assert summary["referred_revenue"] == {"EUR": "85.00"}
    board = referrals.get("/analytics/leaderboard")["entries"]
    assert {(e["advocate_id"], e["code"], e["qualified"], e["clicks"]) for e in board} == {
        ("anna", code_a, 1, 2),
        ("ben", code_b, 1, 1),
    }


def _code(service: Any, customer: str) -> dict[str, Any] | None:
    try:
        return service.get(f"/customers/{customer}/code")  # type: ignore[no-any-return]
    except httpx.HTTPStatusError:
        return None


def _summary_with(service: Any, *, qualified: int) -> dict[str, Any] | None:
    summary: dict[str, Any] = service.get("/analytics/summary")
    return summary if summary["k_factor"]["qualified"] == qualified else None
