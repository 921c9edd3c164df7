"""The outbox relay: what a transaction committed goes out from memory, a batch per partition;
the table is the truth for the rest; per key the order of commits is kept, and nothing is lost
while the broker is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import String, event, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis.columns import UtcDateTime
from wom_chassis.database import Database
from wom_chassis.outbox import add_to_outbox, oldest_unsent_age, outbox_row
from wom_chassis.privacy import remember_erased
from wom_chassis.publishing import KeyPartitioner
from wom_chassis.relay import _TO_FORGET, OutboxRelay
from wom_chassis.tables import OutboxRecord
from wom_chassis.unit_of_work import unit_of_work
from wom_contracts import Money, OrderCompletedV1

from .conftest import FakeProducer

WHEN = datetime(2026, 11, 1, 12, tzinfo=UTC)
TOPIC = OrderCompletedV1.event_type


class Registers(DeclarativeBase):
    pass


class Erased(Registers):
    __tablename__ = "erased_customers"

    customer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())


def order(n: int, customers: int = 2) -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=f"o-{n}",
        customer_id=f"c-{n % customers}",
        completed_at=WHEN,
        total=Money(amount=Decimal(n), currency="EUR"),
    )


async def write(db: Database, events: list[OrderCompletedV1], *, age: float = 0) -> None:
    """Rows committed without a hand-over (a crash, another process), `age` seconds old."""
    async with db.transaction() as session:
        rows = [outbox_row(e, source="wom/test") for e in events]
        for row in rows:
            row["created_at"] -= timedelta(seconds=age)
        await add_to_outbox(session, rows)


async def commit(db: Database, relay: OutboxRelay, events: list[OrderCompletedV1]) -> None:
    """Rows committed in one transaction and handed over, as the consume path and jobs do."""
    async with unit_of_work(db, source="wom/test", on_committed=relay.hand_over) as work:
        for e in events:
            work.emit(e)


def statements(db: Database, verb: str) -> list[str]:
    """The statements on the outbox that start with `verb`, from now on; the look for rows of
    erased customers (on the partial index, after every round) aside."""
    seen: list[str] = []

    def before(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if (
            statement.lstrip().upper().startswith(verb)
            and "outbox" in statement
            and "forget_when_sent" not in statement
        ):
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def unsent(db: Database) -> int:
    async with db.session() as session:
        return len((await session.scalars(select(OutboxRecord).where(OutboxRecord.sent_at.is_(None)))).all())


async def drain(relay: OutboxRelay) -> None:
    while await relay.publish_next():
        pass


def relay_of(db: Database, producer: FakeProducer, **options: object) -> OutboxRelay:
    return OutboxRelay(db, producer, service="test", **options)  # type: ignore[arg-type]


def per_key(producer: FakeProducer) -> dict[bytes | None, list[str]]:
    """The order ids each key's records carried, in the order they were sent."""
    keys: dict[bytes | None, list[str]] = {}
    for record in producer.records:
        keys.setdefault(record.key, []).append(record.order_id)
    return keys


def in_order(events: list[OrderCompletedV1]) -> dict[bytes | None, list[str]]:
    """The order ids of `events` per key, in the order they were committed."""
    keys: dict[bytes | None, list[str]] = {}
    for e in events:
        keys.setdefault(e.customer_id.encode(), []).append(e.order_id)
    return keys


async def test_the_table_is_published_in_order_at_start_and_marked_sent(db: Database) -> None:
    await write(db, [order(n) for n in range(1, 6)])
    async with db.session() as session:
        assert await oldest_unsent_age(session) >= 0
    producer = FakeProducer()
    relay = relay_of(db, producer, batch_size=3)
    assert await relay.publish_next() == 3
    assert await relay.publish_next() == 2
    assert await relay.publish_next() == 0
    assert per_key(producer) == in_order([order(n) for n in range(1, 6)])
    async with db.session() as session:
        rows = (await session.scalars(select(OutboxRecord))).all()
        assert all(row.sent_at is not None for row in rows)
        assert await oldest_unsent_age(session) == 0
    assert await relay.delete_sent_before(datetime.now(UTC) + timedelta(seconds=1)) == 5


async def test_rows_wait_while_the_broker_is_down(db: Database) -> None:
    await write(db, [order(1)])
    producer = FakeProducer()
    producer.down = True
    relay = relay_of(db, producer)
    with pytest.raises(ConnectionError):
        await relay.publish_next()
    assert await unsent(db) == 1


async def test_committed_rows_go_out_from_memory_a_batch_per_partition_marked_in_one_update(
    db: Database,
) -> None:
    producer = FakeProducer(partitions=4)
    relay = relay_of(db, producer)
    assert await relay.publish_next() == 0  # the first step reads the (empty) table
    reads, updates = statements(db, "SELECT"), statements(db, "UPDATE")
    events = [order(n, customers=10) for n in range(40)]
    await commit(db, relay, events[:25])
    await commit(db, relay, events[25:])
    assert await relay.publish_next() == 40
    assert await relay.publish_next() == 0
    assert reads == []  # published from memory, not read back
    assert len(updates) == 1  # the whole round marked at once
    assert len(producer.batches) == len({(t, p) for t, p, _ in producer.batches}) <= 4
    partitioner = KeyPartitioner()
    for record in producer.records:  # each key where the default partitioner puts it
        assert record.partition == partitioner(record.key, [0, 1, 2, 3])
    assert per_key(producer) == in_order(events)
    assert await unsent(db) == 0
    relay._forget()  # the table agrees: nothing is published twice
    assert await relay.publish_next() == 0 and len(producer.records) == 40


async def test_rows_about_a_customer_erased_before_they_went_out_are_published_then_forgotten(
    db: Database,
) -> None:
    """The erasure's transaction deletes what was published about the customer; what still waits
    (the same batch's events, a broker down) goes out, as ever, and is then deleted, not kept for
    the retention period."""
    async with db.engine.begin() as conn:
        await conn.run_sync(Registers.metadata.create_all)
    producer = FakeProducer()
    relay = relay_of(db, producer)
    assert await relay.publish_next() == 0
    await commit(db, relay, [order(0), order(1)])  # c-0's and c-1's, waiting to go out
    async with db.transaction() as session:
        await remember_erased(session, Erased, "c-0")
    assert await relay.publish_next() == 2
    assert [record.key for record in producer.records] == [b"c-0", b"c-1"]  # nothing was held back
    async with db.session() as session:
        kept = (await session.scalars(select(OutboxRecord.key))).all()
    assert kept == [b"c-1"]  # c-1's row stays for the retention period, c-0's is gone


async def test_looking_for_rows_to_forget_reads_the_partial_index_not_every_sent_row(
    tmp_path: Path,
) -> None:
    """The relay looks after every round: asked in one WHERE, SQLite's planner walked the whole of
    ix_outbox_unsent's sent rows (5.9 ms at 20,000 rows, a third of the relay's time per row)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}", [])
    await db.migrate()
    await write(db, [order(n) for n in range(50)])
    async with db.transaction() as session:
        await session.execute(update(OutboxRecord).values(sent_at=WHEN))
        await session.execute(text("ANALYZE"))  # statistics make the planner prefer the big index
    statement = str(_TO_FORGET.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    async with db.session() as session:
        plan = " ".join(row[-1] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
    await db.dispose()
    assert plan == "SCAN outbox USING INDEX ix_outbox_forget", plan


async def test_a_full_batch_waits_a_round_and_its_partition_keeps_its_order(db: Database) -> None:
    producer = FakeProducer(partitions=2, batch_limit=3)
    relay = relay_of(db, producer)
    assert await relay.publish_next() == 0
    await commit(db, relay, [order(n, customers=1) for n in range(7)])  # one key: one partition
    assert [await relay.publish_next() for _ in range(4)] == [3, 3, 1, 0]
    assert [count for _, _, count in producer.batches] == [3, 3, 1]  # one batch a round
    assert producer.sent == [f"o-{n}" for n in range(7)]


async def test_a_restarted_relay_first_publishes_what_a_crash_left_unsent(db: Database) -> None:
    await write(db, [order(1), order(2)])  # committed, then the process died before publishing
    producer = FakeProducer()
    relay = relay_of(db, producer)
    await commit(db, relay, [order(3)])  # committed after the restart, before the relay's first step
    await drain(relay)
    await commit(db, relay, [order(4)])
    await drain(relay)
    assert per_key(producer) == in_order([order(n) for n in range(1, 5)])
    assert await unsent(db) == 0


async def test_rows_handed_over_during_an_outage_are_published_in_order_afterwards(db: Database) -> None:
    producer = FakeProducer()
    relay = relay_of(db, producer, batch_size=2)
    assert await relay.publish_next() == 0
    producer.down = True
    await commit(db, relay, [order(1)])
    with pytest.raises(ConnectionError):
        await relay.publish_next()
    for n in (2, 3, 4):
        await commit(db, relay, [order(n)])
    assert await unsent(db) == 4  # delayed, not lost
    producer.down = False
    await drain(relay)
    await commit(db, relay, [order(5)])
    await drain(relay)
    assert per_key(producer) == in_order([order(n) for n in range(1, 6)])
    assert await unsent(db) == 0


async def test_a_failed_batch_goes_first_and_the_other_partitions_are_marked_sent(db: Database) -> None:
    producer = FakeProducer(partitions=2)
    relay = relay_of(db, producer)
    assert await relay.publish_next() == 0
    await commit(db, relay, [order(n) for n in range(6)])  # c-0 and c-1, one partition each
    producer.fail_next = 1  # the first batch reached the broker, its acknowledgement did not come
    with pytest.raises(TimeoutError):
        await relay.publish_next()
    assert await unsent(db) == 3  # the other partition's batch is marked
    await commit(db, relay, [order(n) for n in range(6, 10)])
    await drain(relay)
    keys, expected = per_key(producer), in_order([order(n) for n in range(10)])
    first = producer.records[0].key
    (other,) = set(keys) - {first}
    assert keys[first] == expected[first][:3] + expected[first]  # sent again, then on in order
    assert keys[other] == expected[other]
    assert await unsent(db) == 0


async def test_a_relay_that_falls_behind_lets_the_table_buffer_its_rows(db: Database) -> None:
    producer = FakeProducer()
    relay = relay_of(db, producer, batch_size=2)
    assert await relay.publish_next() == 0
    events = [order(n) for n in range(1, 2 * OutboxRelay.MEMORY_ROUNDS + 2)]
    await commit(db, relay, events)
    assert not relay._memory  # more than memory may hold: the rows are read back from the table
    reads = statements(db, "SELECT")
    await drain(relay)
    assert reads  # the sweeper published them
    assert per_key(producer) == in_order(events)
    await commit(db, relay, [order(99)])  # and memory takes over again
    reads.clear()
    await drain(relay)
    assert producer.sent[-1] == "o-99" and reads == []
    assert await unsent(db) == 0


async def test_the_sweeper_publishes_other_processes_rows_once_they_have_waited(db: Database) -> None:
    producer = FakeProducer()
    relay = relay_of(db, producer, sweep_after=5.0)
    assert await relay.publish_next() == 0
    await write(db, [order(1)], age=1)  # another process's row, which its own relay may still send
    await commit(db, relay, [order(2)])
    await drain(relay)
    assert producer.sent == ["o-2"]
    await write(db, [order(3)], age=6)  # a row its process left behind
    relay._next_sweep = 0  # the sweep is due
    await drain(relay)
    assert producer.sent == ["o-2", "o-3"]
    async with db.transaction() as session:  # the first row has waited long enough too
        waited = datetime.now(UTC) - timedelta(seconds=6)
        await session.execute(update(OutboxRecord).values(created_at=waited))
    relay._next_sweep = 0
    await drain(relay)
    assert producer.sent == ["o-2", "o-3", "o-1"]
    assert await unsent(db) == 0


async def test_the_sweeper_never_overtakes_a_key_that_waits_in_memory(db: Database) -> None:
    """A key's row still in memory (the broker was down) and a later row of that key committed
    but not yet handed over (the transaction's hand-over comes after its commit, and a slow one
    has old rows): a due sweep must not publish the later row first."""
    producer = FakeProducer()
    relay = relay_of(db, producer, sweep_after=0.5)
    assert await relay.publish_next() == 0  # in step with the (empty) table
    producer.down = True
    await commit(db, relay, [order(2)])  # customer c-0: waits in memory while the broker is down
    with pytest.raises(ConnectionError):
        await relay.publish_next()
    producer.down = False
    await write(db, [order(4)], age=1)  # c-0 again, committed, its hand-over not come yet
    relay._next_sweep = 0  # the sweep is due
    await drain(relay)
    assert per_key(producer)[b"c-0"][0] == "o-2"  # the older row first
    relay.hand_over([])  # nothing more: the later row goes out once its key has left memory
    relay._next_sweep = 0
    await drain(relay)
    assert per_key(producer)[b"c-0"] == ["o-2", "o-4"] and await unsent(db) == 0


async def test_flush_publishes_every_unsent_row_in_order(db: Database) -> None:
    producer = FakeProducer()
    relay = relay_of(db, producer, batch_size=2)
    assert await relay.publish_next() == 0
    await write(db, [order(1)])  # another process's, young
    await commit(db, relay, [order(n) for n in range(2, 7)])
    await relay.flush()
    assert per_key(producer) == in_order([order(n) for n in range(1, 7)])
    assert await unsent(db) == 0


async def test_published_rows_are_counted_once_per_batch(db: Database) -> None:
    def published() -> float:
        labels = {"service": "counted", "event_type": TOPIC}
        return REGISTRY.get_sample_value("wom_outbox_published_total", labels) or 0

    before = published()
    producer = FakeProducer(partitions=3)
    relay = OutboxRelay(db, producer, service="counted")  # type: ignore[arg-type]
    assert await relay.publish_next() == 0
    await commit(db, relay, [order(n, customers=9) for n in range(30)])
    await drain(relay)
    assert published() - before == 30
