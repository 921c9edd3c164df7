"""The naive baseline: the rewards earn as a new user would write it from FastStream's and
SQLAlchemy's documentation, to show what wom's consume path is worth against it.

Written naively on purpose, and kept that way: one message at a time
(`@broker.subscriber(...)`, FastStream acks each after the handler, a commit to the broker per
message), the CloudEvent decoded with the `cloudevents` SDK and validated with the pydantic
contract, then one ORM `AsyncSession` transaction per order: look the event up in the inbox,
add the inbox row, one ledger row (points = the order total, rounded down) and one outbox row
(an encoded `RewardGrantedV1`), commit. The same guarantees as the services (an event's effects
commit once, with its inbox row, before its offset), none of their batching, no relay of the
outbox (which only flatters the baseline), on a SQLite file of its own with the services'
journal and sync pragmas (WAL, synchronous=NORMAL), so the comparison is of the code, not of
fsyncs. Do not optimise it: it is the yardstick.

    KAFKA_BOOTSTRAP_SERVERS=... DATABASE_URL=sqlite+aiosqlite:///naive.db CONSUMER_GROUP=naive \\
        faststream run naive:app --app-dir tests/bench

The bench (`tests/bench/consume.py`) runs it so, as its own process, on the rewards input, and
reads its inbox's `processed_at` and its CPU like a service's.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage as CloudEventMessage
from cloudevents.core.bindings.kafka import from_kafka_event, to_binary_event
from cloudevents.core.v1.event import CloudEvent
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_contracts import Balance, OrderCompletedV1, RewardGrantedV1

__all__ = ["Inbox", "LedgerEntry", "OutboxMessage", "app", "on_order_completed"]

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///naive.db")
GROUP = os.environ.get("CONSUMER_GROUP", "naive-rewards")
HOLD = timedelta(days=14)


class Base(DeclarativeBase):
    pass


class Inbox(Base):
    __tablename__ = "inbox"

    ce_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerEntry(Base):
    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(255))
    key: Mapped[bytes] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


engine = create_async_engine(DATABASE_URL)
Session = async_sessionmaker(engine, expire_on_commit=False)


@event.listens_for(engine.sync_engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# FastStream logs each message received and processed, at INFO unless told: at DEBUG here, so
# that, like the services at the bench's LOG_LEVEL=WARNING, it writes no line per event
broker = KafkaBroker(BOOTSTRAP, log_level=logging.DEBUG)
app = FastStream(broker)


@app.on_startup
async def create_tables() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


@app.after_shutdown
async def close_database() -> None:
    await engine.dispose()


@broker.subscriber(
    "commerce.order.completed.v1",
    group_id=GROUP,
    auto_offset_reset="earliest",
    ack_policy=AckPolicy.ACK,  # commit the offset after the handler, not before (ACK_FIRST)
)
async def on_order_completed(message: KafkaMessage) -> None:
    record = message.raw_message
    cloud_event = from_kafka_event(
        CloudEventMessage(headers=dict(record.headers), key=record.key, value=record.value)
    )
    order = OrderCompletedV1.model_validate(cloud_event.get_data())
    now = datetime.now(UTC)
    points = math.floor(order.total.amount)
    async with Session() as session, session.begin():
        if await session.get(Inbox, cloud_event.get_id()) is not None:
            return  # seen before: a redelivery
        session.add(Inbox(ce_id=cloud_event.get_id(), processed_at=now))
        session.add(
            LedgerEntry(customer_id=order.customer_id, order_id=order.order_id, points=points, created_at=now)
        )
        session.add(_granted(order, points, cloud_event.get_id(), now))


def _granted(order: OrderCompletedV1, points: int, source_event_id: str, now: datetime) -> OutboxMessage:
    granted = RewardGrantedV1(
        customer_id=order.customer_id,
        reward_id=str(uuid.uuid4()),
        kind="earn",
        status="pending",
        points=points,
        reason="purchase",
        source_event_id=source_event_id,
        order_id=order.order_id,
        hold_until=now + HOLD,
        balance=Balance(points_available=0, points_pending=points),  # no balance kept: the grant's own
        occurred_at=now,
    )
    cloud_event = CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "source": "naive-rewards",
            "type": granted.event_type,
            "subject": granted.customer_id,
            "time": now,
            "datacontenttype": "application/json",
        },
        data=granted.model_dump(mode="json", exclude_none=True),
    )
    encoded = to_binary_event(cloud_event)
    return OutboxMessage(
        topic=granted.event_type,
        key=granted.customer_id.encode(),
        value=encoded.value,
        headers={name: value.decode() for name, value in encoded.headers.items()},
        created_at=now,
    )
