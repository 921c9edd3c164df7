"""Double-sided referral rewards: pending until the hold ends, caps, budget, reversal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rewards.jobs import release_due
from rewards.models import Coupon
from sqlalchemy import select
from wom_chassis import Service
from wom_contracts import RewardGrantedV1, RewardReleasedV1, RewardRevokedV1, RewardWithheldV1
from wom_testkit import emitted, publish_event

from ..conftest import RewardsFactory
from ..support import NOW, entries, qualified, reversed_


async def test_both_sides_are_rewarded_pending_until_the_hold_ends(rewards: Service) -> None:
    await publish_event(rewards.broker, qualified())
    await publish_event(rewards.broker, qualified(), event_id="a-second-copy")
    rows = await entries(rewards)
    assert [(e.customer_id, e.kind, e.unit, e.amount, e.status) for e in rows] == [
        ("maria", "referral_advocate", "points", Decimal(500), "pending"),
        ("ben", "referral_friend", "EUR", Decimal(10), "pending"),
    ]
    grants = await emitted(rewards, RewardGrantedV1)
    assert [(g.customer_id, g.kind, g.points, g.credit) for g in grants] == [
        ("maria", "referral_advocate", 500, None),
        ("ben", "referral_friend", None, grants[1].credit),
    ]
    assert grants[1].credit.amount == Decimal("10.00") and grants[0].referral_id == "ref-1"
    assert await release_due(rewards) == 0  # the hold has not ended
    assert await release_due(rewards, now=NOW + timedelta(days=15)) == 2
    released = await emitted(rewards, RewardReleasedV1)
    assert {(r.customer_id, r.points) for r in released} == {("maria", 500), ("ben", None)}
    assert [r.balance.credit_available[0].amount for r in released if r.customer_id == "ben"] == [Decimal(10)]


async def test_a_reversal_inside_the_hold_cancels_both_sides(rewards: Service) -> None:
    await publish_event(rewards.broker, qualified())
    await publish_event(rewards.broker, reversed_())
    await publish_event(rewards.broker, reversed_(), event_id="again")
    rows = await entries(rewards)
    assert sorted((e.customer_id, e.kind, e.amount, e.status) for e in rows) == [
        ("ben", "referral_friend", Decimal(10), "revoked"),
        ("ben", "revoke", Decimal(-10), "revoked"),
        ("maria", "referral_advocate", Decimal(500), "revoked"),
        ("maria", "revoke", Decimal(-500), "revoked"),
    ]
    revoked = await emitted(rewards, RewardRevokedV1)
    assert sorted((r.customer_id, r.reason, r.balance.points_pending) for r in revoked) == [
        ("ben", "order_refunded", 0),
        ("maria", "order_refunded", 0),
    ]
    assert await release_due(rewards, now=NOW + timedelta(days=15)) == 0


async def test_a_reversal_after_release_takes_the_rewards_back_even_below_zero(rewards: Service) -> None:
    await publish_event(rewards.broker, qualified(hold_until=NOW - timedelta(days=1)))
    assert await release_due(rewards) == 2
    await publish_event(rewards.broker, reversed_())
    revoked = {r.customer_id: r for r in await emitted(rewards, RewardRevokedV1)}
    assert revoked["maria"].points == 500 and revoked["maria"].balance.points_available == 0
    revokes = [e for e in await entries(rewards) if e.kind == "revoke"]
    assert {(e.customer_id, e.amount, e.status) for e in revokes} == {
        ("maria", Decimal(-500), "available"),
        ("ben", Decimal(-10), "available"),
    }


async def test_a_reversal_that_comes_first_leaves_the_qualification_unrewarded(rewards: Service) -> None:
    await publish_event(rewards.broker, reversed_())
    await publish_event(rewards.broker, qualified())
    assert await entries(rewards) == []
    withheld = await emitted(rewards, RewardWithheldV1)
    assert sorted((w.customer_id, w.kind, w.reason) for w in withheld) == [
        ("ben", "referral_friend", "referral_reversed"),
        ("maria", "referral_advocate", "referral_reversed"),
    ]


async def test_the_advocate_cap_withholds_the_advocate_side_only(make_rewards: RewardsFactory) -> None:
    async with make_rewards({"referrals": {"cap_per_advocate": {"count": 2, "period_days": 30}}}) as rewards:
        for n in range(3):
            await publish_event(rewards.broker, qualified(f"ref-{n}", friend=f"friend-{n}"))
        kinds = [(e.customer_id, e.kind) for e in await entries(rewards)]
        assert kinds.count(("maria", "referral_advocate")) == 2
        assert ("friend-2", "referral_friend") in kinds
        [withheld] = await emitted(rewards, RewardWithheldV1)
        assert (withheld.customer_id, withheld.reason, withheld.referral_id, withheld.points) == (
            "maria",
            "advocate_cap_reached",
            "ref-2",
            500,
        )


async def test_the_programme_budget_withholds_rewards_once_spent(make_rewards: RewardsFactory) -> None:
    rules = {"referrals": {"budget": {"period": "month", "points": 1000, "credit": "15.00"}}}
    async with make_rewards(rules) as rewards:
        await publish_event(rewards.broker, qualified("ref-1", advocate="a-1", friend="f-1"))
        await publish_event(rewards.broker, qualified("ref-2", advocate="a-2", friend="f-2"))
        await publish_event(rewards.broker, qualified("ref-3", advocate="a-3", friend="f-3"))
        withheld = [(w.customer_id, w.reason) for w in await emitted(rewards, RewardWithheldV1)]
        # 500 points per advocate: two fit in 1000; 10 EUR per friend: one fits in 15
        assert withheld == [
            ("f-2", "programme_budget_exhausted"),
            ("a-3", "programme_budget_exhausted"),
            ("f-3", "programme_budget_exhausted"),
        ]


async def test_a_coupon_reward_is_a_coupon_valid_from_the_end_of_the_hold(
    make_rewards: RewardsFactory,
) -> None:
    rules = {
        "referrals": {
            "friend": {"type": "coupon", "coupon": {"amount": "15.00", "currency": "EUR"}, "credit": None}
        }
    }
    async with make_rewards(rules) as rewards:
        event = qualified()
        await publish_event(rewards.broker, event)
        grant = next(g for g in await emitted(rewards, RewardGrantedV1) if g.kind == "referral_friend")
        assert grant.coupon_code is not None and grant.coupon_code.startswith("REF-")
        async with rewards.db.session() as session:
            [coupon] = (await session.scalars(select(Coupon))).all()
        assert (coupon.code, coupon.amount, coupon.valid_from) == (
            grant.coupon_code,
            Decimal(15),
            event.hold_until,
        )
