"""Erasure: personal data gone, the ledger kept anonymised for accounting, later events ignored."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from httpx import ASGITransport, AsyncClient
from rewards.jobs import birthday_gifts
from rewards.models import Coupon, Customer, LedgerEntry, Order, Referral
from rewards.rules import load_rules
from rewards.tiering import order_counts, trailing_revenues, trailing_standing
from sqlalchemy import func, select, update
from wom_chassis import Service, utcnow
from wom_chassis.tables import OutboxRecord
from wom_contracts import KEY_CLIENT, CustomerErasedV1, CustomerRegisteredV1, RewardRevokedV1
from wom_testkit import dead_letters, emitted, publish_event
from wom_testkit.scan import row_occurrences, table_rows

from ..conftest import AUTH
from ..support import LONG_AGO, NOW, entries, order, qualified, refund, reversed_


async def test_erasure_forgets_the_customer_and_keeps_an_anonymous_ledger(rewards: Service) -> None:
    await publish_event(
        rewards.broker,
        CustomerRegisteredV1(
            customer_id="anna",
            email="anna@example.com",
            birthday=date(1990, 5, 1),
            timezone="Europe/Stockholm",
            registered_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
    )
    await publish_event(rewards.broker, order("o-1", "100.00", when=LONG_AGO))
    await publish_event(rewards.broker, qualified(advocate="anna", friend="ben"))
    await publish_event(rewards.broker, CustomerErasedV1(customer_id="anna", requested_at=LONG_AGO))
    await publish_event(rewards.broker, order("o-2", "50.00"))  # a late event about her: ignored
    await publish_event(rewards.broker, refund("r-1", order_id="o-1"))
    async with rewards.db.session() as session:
        assert await session.get(Customer, "anna") is None
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        ledger = (await session.scalars(select(LedgerEntry).order_by(LedgerEntry.kind))).all()
        coupons = (await session.scalars(select(Coupon))).all()
    assert [(e.kind, e.customer_id.startswith("#erased-")) for e in ledger] == [
        ("earn", True),
        ("referral_advocate", True),
        ("referral_friend", False),
    ]
    assert len({e.customer_id for e in ledger if e.customer_id != "ben"}) == 1 and coupons == []
    assert await entries(rewards, "anna") == []
    async with AsyncClient(transport=ASGITransport(app=rewards.http), base_url="http://r") as client:
        balance = (await client.get("/customers/anna/balance", headers=AUTH)).json()
    assert balance["points"] == {"available": 0, "pending": 0}


async def test_a_referral_that_comes_after_an_erasure_does_not_name_the_erased_side(rewards: Service) -> None:
    await publish_event(rewards.broker, CustomerErasedV1(customer_id="anna", requested_at=LONG_AGO))
    await publish_event(rewards.broker, qualified("ref-1", advocate="anna", friend="ben"))
    await publish_event(
        rewards.broker, reversed_("ref-2", advocate="ben", friend="anna")
    )  # before its qualification
    async with rewards.db.session() as session:
        referrals = (await session.scalars(select(Referral).order_by(Referral.referral_id))).all()
    assert [(r.referral_id, r.advocate_id[:8], r.friend_id[:8]) for r in referrals] == [
        ("ref-1", "#erased-", "ben"),
        ("ref-2", "ben", "#erased-"),
    ]
    assert [e.customer_id for e in await entries(rewards)] == ["ben"]  # the friend's reward only


async def test_a_reversal_after_one_side_was_erased_takes_both_rewards_back_and_tells_only_the_other(
    rewards: Service,
) -> None:
    failed_before = dead_letters("rewards", "handler_failed")
    await publish_event(rewards.broker, qualified("ref-1", advocate="anna", friend="ben"))
    await publish_event(rewards.broker, CustomerErasedV1(customer_id="anna", requested_at=LONG_AGO))
    await publish_event(rewards.broker, reversed_("ref-1", advocate="anna", friend="ben"))
    async with rewards.db.session() as session:
        revokes = (await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "revoke"))).all()
    assert sorted(e.customer_id[:8] for e in revokes) == ["#erased-", "ben"]  # the books balance
    told = [event.customer_id for event in await emitted(rewards, RewardRevokedV1)]
    assert told == ["ben"]  # nobody is told about the forgotten customer, under any name
    assert dead_letters("rewards", "handler_failed") == failed_before


async def test_an_order_under_a_pseudonym_counts_nowhere(rewards: Service) -> None:
    """Every sum and count of orders leaves an erased customer's out: the trailing revenues, the
    order counts and the tier endpoint's ranking (the last two once counted them)."""
    async with rewards.db.session() as session, session.begin():
        for order_id, customer_id, amount in (("o-1", "#erased-x", "900.00"), ("o-2", "ben", "100.00")):
            session.add(
                Order(
                    order_id=order_id,
                    customer_id=customer_id,
                    currency="EUR",
                    total=Decimal(amount),
                    refunded=Decimal(0),
                    revenue=Decimal(amount),
                    completed_at=LONG_AGO,
                    source_event_id="e",
                )
            )
    rules = load_rules()  # the shipped rules, as the fixture's
    async with rewards.db.session() as session:
        assert await order_counts(session) == {"ben": 1}
        assert await trailing_revenues(session, NOW, rules) == {"ben": Decimal("100.00")}
        assert await trailing_standing(session, NOW, rules, Decimal("100.00")) == (0, 1)
    async with AsyncClient(transport=ASGITransport(app=rewards.http), base_url="http://r") as client:
        tier = (await client.get("/customers/ben/tier", headers=AUTH)).json()
    assert (tier["rank"], tier["ranked_customers"]) == (1, 1)


async def test_no_column_of_any_table_keeps_the_erased_id_email_or_birthday(rewards: Service) -> None:
    """Every row of every table, found by reflection (outbox and inbox too), after a key client's
    birthday gift, her orders, a referral and a redemption: her id, address and birthday are in
    none of them. The birthday gift's once-key named her id until the erasure rewrote it."""
    today = utcnow()
    born = date(1971, today.month, today.day) if (today.month, today.day) != (2, 29) else date(1972, 2, 29)
    customer, email = "anna-3f9c2e", "anna.3f9c2e@example.com"
    await publish_event(
        rewards.broker,
        CustomerRegisteredV1(
            customer_id=customer, email=email, birthday=born, timezone="UTC", registered_at=LONG_AGO
        ),
    )
    await publish_event(rewards.broker, order("o-1", "100.00", customer=customer, when=NOW))
    await publish_event(rewards.broker, qualified(advocate=customer, friend="ben"))
    async with rewards.db.transaction() as session:
        kept = await session.get(Customer, customer)
        assert kept is not None
        kept.tier = KEY_CLIENT
    assert await birthday_gifts(rewards, rules=load_rules(rewards.settings.rewards_rules_file)) == 1  # type: ignore[attr-defined]
    needles = [customer, email, born.isoformat()]
    assert row_occurrences(await table_rows(rewards.db.engine), needles)  # the scan sees her before
    async with rewards.db.transaction() as session:  # published, as the relay has within moments
        await session.execute(update(OutboxRecord).values(sent_at=utcnow()))

    await publish_event(rewards.broker, CustomerErasedV1(customer_id=customer, requested_at=NOW))

    left = row_occurrences(await table_rows(rewards.db.engine), needles)
    assert left == [], "\n".join(left)
    async with rewards.db.session() as session:
        gift = await session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "birthday"))
    assert gift is not None and gift.once_key == f"birthday:{gift.customer_id}:{today.year}"
    assert gift.customer_id.startswith("#erased-")
