"""rewards with FastStream's in-memory broker and a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from httpx import ASGITransport, AsyncClient
from rewards.models import LedgerEntry
from sqlalchemy import select
from wom_chassis import Service
from wom_chassis.tables import OutboxRecord
from wom_chassis.testing import publish_event
from wom_contracts import Money, OrderCompletedV1, RewardGrantedV1, decode

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def order(order_id: str = "o-1", amount: str = "42.50", currency: str = "EUR") -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=order_id,
        customer_id="anna",
        total=Money(amount=Decimal(amount), currency=currency),
        completed_at=WHEN,
    )


async def entries(service: Service) -> list[LedgerEntry]:
    async with service.db.session() as session:
        return list((await session.scalars(select(LedgerEntry))).all())


async def granted(service: Service) -> list[RewardGrantedV1]:
    async with service.db.session() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.id))).all()
    events = [decode(row.value, [(k, v.encode()) for k, v in row.headers]).event for row in rows]
    assert all(isinstance(event, RewardGrantedV1) for event in events)
    return events  # type: ignore[return-value]


async def test_an_order_grants_pending_points_and_announces_them(rewards: Service) -> None:
    cause = await publish_event(rewards.broker, order())
    [entry] = await entries(rewards)
    assert (entry.customer_id, entry.kind, entry.points, entry.status) == (
        "anna",
        "earn",
        42,
        "pending",
    )
    assert entry.hold_until == datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
    [event] = await granted(rewards)
    assert event.points == 42 and event.order_id == "o-1" and event.source_event_id == cause
    assert event.balance.points_pending == 42 and event.balance.points_available == 0


async def test_one_grant_per_order_even_under_a_new_event_id(rewards: Service) -> None:
    await publish_event(rewards.broker, order(), event_id="evt-1")
    await publish_event(rewards.broker, order(), event_id="evt-1")  # redelivery
    await publish_event(rewards.broker, order(), event_id="evt-2")  # publisher sent it twice
    assert len(await entries(rewards)) == 1
    assert len(await granted(rewards)) == 1


async def test_balance_adds_up_over_orders(rewards: Service) -> None:
    await publish_event(rewards.broker, order("o-1", "10.00"))
    await publish_event(rewards.broker, order("o-2", "1000", "SEK"))
    events = await granted(rewards)
    assert [e.points for e in events] == [10, 100]
    assert events[-1].balance.points_pending == 110


async def test_no_points_without_a_rate_for_the_currency(rewards: Service) -> None:
    await publish_event(rewards.broker, order(currency="JPY"))
    assert await entries(rewards) == []


async def test_balance_api_requires_the_token(rewards: Service) -> None:
    await publish_event(rewards.broker, order())
    transport = ASGITransport(app=rewards.http)
    async with AsyncClient(transport=transport, base_url="http://rewards") as client:
        assert (await client.get("/customers/anna/balance")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.get("/customers/anna/balance", headers=wrong)).status_code == 401
        ok = {"Authorization": "Bearer secret-token"}
        response = await client.get("/customers/anna/balance", headers=ok)
        assert response.status_code == 200
        assert response.json()["points"] == {"pending": 42}
        assert (await client.get("/customers/bad id!/balance", headers=ok)).status_code == 422
        ledger = (await client.get("/customers/anna/ledger", headers=ok)).json()
        assert [e["order_id"] for e in ledger["entries"]] == ["o-1"]
