"""The outbox relay publishes in order, marks rows sent and loses nothing in a broker outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import select
from wom_chassis.outbox import OutboxRelay, add_to_outbox, oldest_unsent_age, outbox_row
from wom_chassis.tables import OutboxRecord
from wom_contracts import Money, OrderCompletedV1, decode

WHEN = datetime(2026, 11, 1, 12, tzinfo=UTC)


def order(n: int) -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=f"o-{n}",
        customer_id=f"c-{n % 2}",
        completed_at=WHEN,
        total=Money(amount=Decimal(n), currency="EUR"),
    )


async def write(db, events) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as session, session.begin():
        await add_to_outbox(session, [outbox_row(e, source="wom/test") for e in events])


async def test_relay_publishes_in_order_and_marks_sent(db) -> None:
    broker = KafkaBroker("localhost:9092")
    received: list[str] = []

    @broker.subscriber("commerce.order.completed.v1", decoder=lambda m: m.raw_message)
    async def keep(message: KafkaMessage) -> None:
        record = message.raw_message
        received.append(decode(record.value, record.headers).event.order_id)  # type: ignore[attr-defined]

    await write(db, [order(n) for n in range(1, 6)])
    async with db.session() as session:
        assert await oldest_unsent_age(session) >= 0
    async with TestKafkaBroker(broker):
        relay = OutboxRelay(db, broker, service="test", batch_size=3)
        assert await relay.publish_pending() == 3
        assert await relay.publish_pending() == 2
        assert await relay.publish_pending() == 0
    assert received == [f"o-{n}" for n in range(1, 6)]
    async with db.session() as session:
        rows = (await session.scalars(select(OutboxRecord))).all()
        assert all(row.sent_at is not None for row in rows)
        assert await oldest_unsent_age(session) == 0
    relay = OutboxRelay(db, broker, service="test")
    assert await relay.delete_sent_before(datetime.now(UTC) + timedelta(seconds=1)) == 5


async def test_rows_wait_while_the_broker_is_down(db) -> None:
    broker = KafkaBroker("127.0.0.1:1")  # never connected: publishing fails
    await write(db, [order(1)])
    relay = OutboxRelay(db, broker, service="test")
    try:
        await relay.publish_pending()
        raise AssertionError("publishing without a broker must fail")
    except AssertionError:
        raise
    except Exception:
        pass
    async with db.session() as session:
        rows = (await session.scalars(select(OutboxRecord))).all()
    assert len(rows) == 1 and rows[0].sent_at is None
