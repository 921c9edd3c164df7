"""Points on purchases and the one refund chain, through the real consume path."""

from __future__ import annotations

from decimal import Decimal

from rewards.models import Customer, Order, Refund
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_contracts import RewardGrantedV1, RewardRevokedV1, TierChangedV1
from wom_testkit import dead_letters, emitted, publish_event

from ..support import NOW, entries, order, refund


async def test_an_order_grants_pending_points_until_the_return_window_ends(rewards: Service) -> None:
    cause = await publish_event(rewards.broker, order())
    [entry] = await entries(rewards)
    assert (entry.customer_id, entry.kind, entry.amount, entry.status, entry.reason) == (
        "anna",
        "earn",
        Decimal(42),
        "pending",
        "purchase",
    )
    assert entry.hold_until is not None and (entry.hold_until - NOW).days == 14
    assert entry.expires_at is not None and (entry.expires_at - NOW).days == 365
    [event] = await emitted(rewards, RewardGrantedV1)
    assert (event.points, event.order_id, event.source_event_id, event.status) == (
        42,
        "o-1",
        cause,
        "pending",
    )
    assert (event.balance.points_pending, event.balance.points_available) == (42, 0)


async def test_one_earn_per_order_whatever_the_event_id(rewards: Service) -> None:
    await publish_event(rewards.broker, order(), event_id="evt-1")
    await publish_event(rewards.broker, order(), event_id="evt-1")  # redelivery
    await publish_event(rewards.broker, order(), event_id="evt-2")  # the publisher sent it twice
    assert len(await entries(rewards)) == 1
    assert len(await emitted(rewards, RewardGrantedV1)) == 1


async def test_small_orders_and_unknown_currencies_earn_nothing_but_count(rewards: Service) -> None:
    await publish_event(rewards.broker, order("o-1", "4.99"))  # minimum order is 5 EUR
    await publish_event(rewards.broker, order("o-2", "50", "JPY"))  # no rate for JPY
    assert await entries(rewards) == []
    async with rewards.db.session() as session:
        orders = {o.order_id: o.revenue for o in await session.scalars(select(Order))}
    assert orders == {"o-1": Decimal("4.99"), "o-2": Decimal(0)}  # JPY has no exchange rate either


async def test_key_clients_earn_more(rewards: Service) -> None:
    async with rewards.db.transaction() as session:
        session.add(Customer(customer_id="anna", tier="key_client", updated_at=utcnow()))
    await publish_event(rewards.broker, order(amount="100.00"))
    [entry] = await entries(rewards)
    assert (entry.amount, entry.reason) == (Decimal(150), "purchase_key_client")


async def test_partial_refunds_claw_back_their_share_and_never_more_than_granted(rewards: Service) -> None:
    await publish_event(rewards.broker, order(amount="100.00"))  # 100 points
    await publish_event(rewards.broker, refund("r-1", amount="33.33"))
    await publish_event(rewards.broker, refund("r-1", amount="33.33"), event_id="again")  # same refund twice
    await publish_event(rewards.broker, refund("r-2", amount="33.33"))
    await publish_event(rewards.broker, refund("r-3", amount="50.00"))  # more than is left
    clawbacks = [e for e in await entries(rewards) if e.kind == "clawback"]
    assert [(e.refund_id, e.amount, e.status) for e in clawbacks] == [
        ("r-1", Decimal(-33), "pending"),
        ("r-2", Decimal(-34), "pending"),
        ("r-3", Decimal(-33), "pending"),
    ]
    revoked = await emitted(rewards, RewardRevokedV1)
    assert [(e.points, e.reason, e.refund_id) for e in revoked] == [
        (33, "order_partially_refunded", "r-1"),
        (34, "order_partially_refunded", "r-2"),
        (33, "order_refunded", "r-3"),
    ]
    assert revoked[-1].balance.points_pending == 0
    async with rewards.db.session() as session:
        [stored] = (await session.scalars(select(Order))).all()
    assert (stored.refunded, stored.revenue) == (Decimal("116.66"), Decimal(0))


async def test_a_refund_before_its_order_waits_for_it(rewards: Service) -> None:
    await publish_event(rewards.broker, refund("r-1", amount="21.25"))
    assert await entries(rewards) == []
    async with rewards.db.session() as session:
        parked = await session.get(Refund, "r-1")
        assert parked is not None and parked.applied_at is None
    await publish_event(rewards.broker, order())  # 42.50 EUR → 42 points, half refunded → 21 back
    kinds = [(e.kind, e.amount) for e in await entries(rewards)]
    assert kinds == [("earn", Decimal(42)), ("clawback", Decimal(-21))]
    async with rewards.db.session() as session:
        applied = await session.get(Refund, "r-1")
        assert applied is not None and applied.applied_at is not None


async def test_a_refund_in_another_currency_than_its_order_is_dead_lettered(rewards: Service) -> None:
    before = dead_letters("rewards", "refund_currency_mismatch")
    await publish_event(rewards.broker, order())
    await publish_event(rewards.broker, refund("r-1", amount="100", currency="SEK"))
    assert [e.kind for e in await entries(rewards)] == ["earn"]
    assert dead_letters("rewards", "refund_currency_mismatch") == before + 1


async def test_a_refund_after_release_takes_points_from_the_available_balance(rewards: Service) -> None:
    from rewards.jobs import release_due

    await publish_event(rewards.broker, order(amount="20.00", when=NOW.replace(year=NOW.year - 1)))
    assert await release_due(rewards) == 1
    await publish_event(rewards.broker, refund("r-1", amount="20.00"))
    [_, clawback] = await entries(rewards)
    assert (clawback.amount, clawback.status) == (Decimal(-20), "available")
    [revoked] = await emitted(rewards, RewardRevokedV1)
    assert revoked.balance.points_available == 0


async def test_the_first_customer_with_revenue_is_the_top_fifth(rewards: Service) -> None:
    await publish_event(rewards.broker, order("o-1"))  # ranked before the order: nobody has revenue
    await publish_event(rewards.broker, order("o-2"))  # now ranked: anna alone is the top fifth
    [change] = await emitted(rewards, TierChangedV1)
    assert (change.previous_tier, change.tier, change.reason) == (
        "member",
        "key_client",
        "entered_top_percent",
    )
    assert change.trailing_revenue.amount == Decimal("85.00")
    assert change.threshold is not None and change.threshold.amount == Decimal("42.50")


async def test_two_orders_make_a_repeat_buyer_and_a_full_refund_undoes_it(rewards: Service) -> None:
    await publish_event(rewards.broker, order("big", "1000.00", customer="bea"))
    await publish_event(rewards.broker, order("o-1"))  # ranks bea (1000) as the line
    await publish_event(rewards.broker, order("o-2"))
    await publish_event(rewards.broker, refund("r-1", order_id="o-2", amount="42.50"))
    changes = [
        (e.customer_id, e.previous_tier, e.tier, e.reason, e.upgrade)
        for e in await emitted(rewards, TierChangedV1)
    ]
    assert changes == [  # each says which way it went
        ("anna", "member", "repeat_buyer", "repeat_purchase", True),
        ("anna", "repeat_buyer", "member", "orders_refunded", False),
    ]
