"""The migration to exact amounts keeps every amount a database already holds, both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from referrals.app import MIGRATIONS
from referrals.models import Order, Referral, Refund
from sqlalchemy import func, select, text
from wom_chassis import Database
from wom_testkit import database_backends, empty_database_url

AMOUNTS = {"o1": "12.5", "o2": "0.0001", "o3": "99999999.9999", "o4": "1500"}


@pytest.fixture(params=database_backends())
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(await empty_database_url(request.param, tmp_path), [MIGRATIONS])
    await db.migrate("referrals_0002")
    async with db.transaction() as session:
        for order_id, amount in AMOUNTS.items():
            await session.execute(
                text(
                    "INSERT INTO orders (order_id, customer_id, amount, currency, completed_at)"
                    " VALUES (:id, 'c1', CAST(:amount AS NUMERIC), 'EUR', '2026-12-01 10:00:00')"
                ),
                {"id": order_id, "amount": amount},
            )
        await session.execute(
            text(
                "INSERT INTO refunds (refund_id, order_id, customer_id, amount, currency, refunded_at)"
                " VALUES ('f1', 'o1', 'c1', CAST(:amount AS NUMERIC), 'EUR', '2026-12-02 10:00:00')"
            ),
            {"amount": "2.25"},
        )
        await session.execute(
            text(
                "INSERT INTO referrals (referral_id, friend_id, advocate_id, code, source, attributed_at,"
                " status, order_amount) VALUES"
                " ('r1', 'c1', 'c2', 'ANA', 'link', '2026-12-01 09:00', 'pending', CAST(:amount AS NUMERIC)),"
                " ('r2', 'c3', 'c2', 'ANA', 'link', '2026-12-01 09:00', 'pending', NULL)"
            ),
            {"amount": "12.5"},
        )
    yield db
    await db.dispose()


async def test_amounts_come_through_the_migration_exact(database: Database) -> None:
    await database.migrate()
    async with database.session() as session:
        orders: dict[str, Decimal] = dict((await session.execute(select(Order.order_id, Order.amount))).all())
        refund = await session.scalar(select(Refund.amount))
        referrals: dict[str, Decimal | None] = dict(
            (await session.execute(select(Referral.referral_id, Referral.order_amount))).all()
        )
        total = await session.scalar(select(func.sum(Order.amount)))
    assert orders == {order_id: Decimal(amount) for order_id, amount in AMOUNTS.items()}
    assert refund == Decimal("2.25") and referrals == {"r1": Decimal("12.5"), "r2": None}
    # a sum in SQL is a sum of scaled integers: exact
    assert total == sum(Decimal(amount) for amount in AMOUNTS.values())


async def test_the_migration_down_gives_the_amounts_back(database: Database) -> None:
    await database.migrate()
    await database.downgrade("referrals_0002")
    async with database.session() as session:
        rows = (await session.execute(text("SELECT order_id, amount FROM orders"))).all()
        order_amount = await session.scalar(
            text("SELECT order_amount FROM referrals WHERE referral_id = 'r1'")
        )
    assert {order_id: Decimal(str(amount)) for order_id, amount in rows} == {
        order_id: Decimal(amount) for order_id, amount in AMOUNTS.items()
    }
    assert Decimal(str(order_amount)) == Decimal("12.5")
