"""The outbox relay publishes in order, marks rows sent and loses nothing in a broker outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import event, select
from wom_chassis.outbox import OutboxRelay, add_to_outbox, oldest_unsent_age, outbox_row
from wom_chassis.tables import OutboxRecord
from wom_chassis.unit_of_work import unit_of_work
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


class FakeProducer:
    """Keeps what the relay sends; fails while `down` is set, like a broker outage."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.down = False

    async def send(self, records) -> None:  # type: ignore[no-untyped-def]
        if self.down:
            raise ConnectionError("broker unreachable")
        self.sent += [decode(r.value, r.headers).event.order_id for r in records]  # type: ignore[attr-defined]


def count_outbox_reads(db) -> list[str]:  # type: ignore[no-untyped-def]
    reads: list[str] = []

    def before(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "outbox" in statement:
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    return reads


async def unsent(db) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return len((await session.scalars(select(OutboxRecord).where(OutboxRecord.sent_at.is_(None)))).all())


async def test_committed_rows_are_published_once_from_memory(db) -> None:
    producer = FakeProducer()
    relay = OutboxRelay(db, KafkaBroker(), service="test", producer=producer)  # type: ignore[arg-type]
    assert await relay.publish_next() == 0  # the first step reads the (empty) table
    reads = count_outbox_reads(db)
    for batch in ([1, 2], [3]):
        async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
            for n in batch:
                work.emit(order(n))
    assert await relay.publish_next() == 3
    assert await relay.publish_next() == 0
    assert producer.sent == ["o-1", "o-2", "o-3"]
    assert reads == []  # published from memory, not read back
    assert await unsent(db) == 0
    assert await relay.publish_pending() == 0  # the table agrees: nothing is published twice
    assert producer.sent == ["o-1", "o-2", "o-3"]


async def test_a_restarted_relay_first_publishes_what_a_crash_left_unsent(db) -> None:
    await write(db, [order(1), order(2)])  # committed, then the process died before publishing
    producer = FakeProducer()
    relay = OutboxRelay(db, KafkaBroker(), service="test", producer=producer)  # type: ignore[arg-type]
    async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
        work.emit(order(3))  # committed after the restart, before the relay's first step
    while await relay.publish_next():
        pass
    async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
        work.emit(order(4))
    while await relay.publish_next():
        pass
    assert producer.sent == ["o-1", "o-2", "o-3", "o-4"]
    assert await unsent(db) == 0


async def test_rows_handed_over_during_an_outage_are_published_in_order_afterwards(db) -> None:
    producer = FakeProducer()
    relay = OutboxRelay(db, KafkaBroker(), service="test", producer=producer, batch_size=2)  # type: ignore[arg-type]
    assert await relay.publish_next() == 0
    producer.down = True
    async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
        work.emit(order(1))
    with pytest.raises(ConnectionError):
        await relay.publish_next()
    for n in (2, 3, 4):
        async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
            work.emit(order(n))
    assert await unsent(db) == 4  # delayed, not lost
    producer.down = False
    while await relay.publish_next():
        pass
    async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
        work.emit(order(5))
    while await relay.publish_next():
        pass
    assert producer.sent == ["o-1", "o-2", "o-3", "o-4", "o-5"]
    assert await unsent(db) == 0


async def test_a_relay_that_falls_behind_lets_the_table_buffer_its_rows(db) -> None:
    producer = FakeProducer()
    relay = OutboxRelay(db, KafkaBroker(), service="test", producer=producer, batch_size=2)  # type: ignore[arg-type]
    assert await relay.publish_next() == 0
    events = [order(n) for n in range(1, 2 * OutboxRelay.MEMORY_BATCHES + 2)]
    async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
        for event in events:
            work.emit(event)
    assert not relay._handed  # more than memory may hold: the rows are read back from the table
    while await relay.publish_next():
        pass
    assert producer.sent == [event.order_id for event in events]
    assert await unsent(db) == 0
