"""Scheduled jobs against a real database: expiry (oldest first) with warnings, tier ranking
with a grace period before a downgrade, birthday gifts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from rewards.jobs import birthday_gifts, expire_points, recompute_tiers, release_due
from rewards.models import Customer
from rewards.rules import load_rules
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_contracts import (
    CustomerRegisteredV1,
    PointsExpiringV1,
    RewardGrantedV1,
    RewardRevokedV1,
    TierChangedV1,
)
from wom_testkit import emitted, publish_event

from ..conftest import AUTH
from ..support import NOW, entries, order, refund


def rules_of(service: Service):  # type: ignore[no-untyped-def]
    return load_rules(service.settings.rewards_rules_file)  # type: ignore[attr-defined]


async def test_points_expire_oldest_first_after_a_warning(rewards: Service) -> None:
    from httpx import ASGITransport, AsyncClient

    rules = rules_of(rewards)
    await publish_event(rewards.broker, order("o-old", "100.00", when=NOW - timedelta(days=340)))  # +25 days
    await publish_event(rewards.broker, order("o-older", "40.00", when=NOW - timedelta(days=350)))  # +15 days
    await publish_event(rewards.broker, order("o-new", "50.00", when=NOW - timedelta(days=20)))
    assert await release_due(rewards) == 3
    async with AsyncClient(transport=ASGITransport(app=rewards.http), base_url="http://r") as client:
        spent = await client.post(
            "/customers/anna/redemptions",
            json={"points": 120, "currency": "EUR"},
            headers={**AUTH, "Idempotency-Key": "k-1"},
        )
        assert spent.status_code == 201, spent.text
    # the redemption spent the oldest lots first: all 40 of o-older, 80 of o-old
    await expire_points(rewards, rules=rules)
    [warning] = await emitted(rewards, PointsExpiringV1)
    assert warning.points == 20 and warning.expires_at.date() == (NOW + timedelta(days=25)).date()
    await expire_points(rewards, rules=rules)
    assert len(await emitted(rewards, PointsExpiringV1)) == 1  # warned once
    later = NOW + timedelta(days=26)
    await expire_points(rewards, rules=rules, now=later)
    [expired] = [e for e in await emitted(rewards, RewardRevokedV1) if e.reason == "points_expired"]
    # 100 + 40 + 75 (anna is a key client by her third order: 1.5 × 50) − 120 − 20
    assert expired.points == 20 and expired.balance.points_available == 75
    await expire_points(rewards, rules=rules, now=later)  # nothing expires twice
    assert [e.amount for e in await entries(rewards) if e.kind == "expire"] == [Decimal(-20)]


async def test_the_top_fifth_are_key_clients_and_keep_the_tier_through_the_grace_period(
    rewards: Service,
) -> None:
    rules = rules_of(rewards)
    for n in reversed(range(10)):  # biggest first: nobody crosses a line that is still moving
        await publish_event(rewards.broker, order(f"o-{n}", f"{(n + 1) * 100}.00", customer=f"c-{n}"))
    await recompute_tiers(rewards, rules=rules)
    changes = {e.customer_id: e for e in await emitted(rewards, TierChangedV1)}
    assert {c for c, e in changes.items() if e.tier == "key_client"} == {"c-8", "c-9"}
    assert changes["c-9"].percentile == 100.0 and changes["c-8"].percentile == 90.0
    # c-8 refunds most of its order: below the line, but a key client for the grace period
    await publish_event(rewards.broker, refund("r-1", order_id="o-8", amount="800.00", customer="c-8"))
    await recompute_tiers(rewards, rules=rules)
    async with rewards.db.session() as session:
        c8 = await session.get(Customer, "c-8")
        assert c8 is not None and c8.tier == "key_client" and c8.below_threshold_since is not None
    await recompute_tiers(rewards, rules=rules, now=utcnow() + timedelta(days=31))
    last = [e for e in await emitted(rewards, TierChangedV1) if e.customer_id == "c-8"][-1]
    assert (last.previous_tier, last.tier, last.reason, last.upgrade) == (
        "key_client",
        "member",
        "left_top_percent_after_grace",
        False,
    )


async def test_key_clients_get_birthday_points_once_a_year(rewards: Service) -> None:
    rules = rules_of(rewards)
    today = utcnow()
    born = date(1990, today.month, today.day) if (today.month, today.day) != (2, 29) else date(1992, 2, 29)
    for customer in ("vip", "regular"):
        await publish_event(
            rewards.broker,
            CustomerRegisteredV1(
                customer_id=customer,
                email=f"{customer}@example.com",
                birthday=born,
                registered_at=NOW,
                timezone="UTC",
            ),
        )
    async with rewards.db.transaction() as session:
        vip = await session.get(Customer, "vip")
        assert vip is not None
        vip.tier = "key_client"
    assert await birthday_gifts(rewards, rules=rules) == 1
    assert await birthday_gifts(rewards, rules=rules) == 0
    [gift] = await emitted(rewards, RewardGrantedV1)
    assert (gift.customer_id, gift.kind, gift.points, gift.status) == ("vip", "birthday", 200, "available")
    rows = await entries(rewards)
    assert [(e.customer_id, e.once_key) for e in rows] == [("vip", f"birthday:vip:{today.year}")]
    async with rewards.db.session() as session:
        stored = (await session.scalars(select(Customer.birthday))).all()
    assert stored == [born, born]
