"""Transactional outbox: events are rows written with the state they announce; a relay sends them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from wom_contracts import Event, encode

from wom_chassis.columns import utcnow
from wom_chassis.database import Database
from wom_chassis.driver import write_rows
from wom_chassis.logs import get_logger
from wom_chassis.metrics import OUTBOX_OLDEST_SECONDS, OUTBOX_PENDING, OUTBOX_PUBLISHED
from wom_chassis.publishing import OutgoingRecord, RecordProducer, publish_records
from wom_chassis.tables import OutboxRecord
from wom_chassis.tracing import TraceContext, end_publish_spans, publish_span, trace_headers

__all__ = ["OutboxRelay", "add_to_outbox", "oldest_unsent_age", "outbox_row", "unsent_backlog"]

log = get_logger(__name__)


def outbox_row(
    event: Event,
    *,
    source: str,
    trace: TraceContext = (None, None),
    event_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`event` encoded as a CloudEvent, as an outbox row ready to insert; `trace` is the
    `traceparent` and `tracestate` of the work that emitted it. A unit of work passes the id
    and the time of its batch (`EventIds`, one clock reading); alone, both are made here."""
    now = now or utcnow()
    record = encode(event, source=source, event_id=event_id, time=now)
    return {
        "event_id": record.headers[0][1].decode(),  # ce_id comes first
        "event_type": event.event_type,
        "topic": record.topic,
        "key": record.key,
        "value": record.value,
        "headers": [[name, value.decode()] for name, value in record.headers],
        "created_at": now,
        "traceparent": trace[0],
        "tracestate": trace[1],
    }


async def add_to_outbox(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows (from `outbox_row`) in the session's transaction, in order."""
    await write_rows(session, OutboxRecord.__table__, rows)


async def oldest_unsent_age(session: AsyncSession, now: datetime | None = None) -> float:
    """Seconds since the oldest unsent outbox row was written (0 when none waits)."""
    oldest = await session.scalar(
        select(func.min(OutboxRecord.created_at)).where(OutboxRecord.sent_at.is_(None))
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or utcnow()) - oldest).total_seconds())


async def unsent_backlog(session: AsyncSession, now: datetime | None = None) -> tuple[int, float]:
    """How many outbox rows wait to be published, and the age in seconds of the oldest (0, 0.0
    when none waits); one query over the unsent-rows index."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxRecord.created_at)).where(OutboxRecord.sent_at.is_(None))
        )
    ).one()
    if oldest is None:
        return 0, 0.0
    return int(count), max(0.0, ((now or utcnow()) - oldest).total_seconds())


class OutboxRelay:
    """Publishes unsent outbox rows in order and marks them sent; waits out broker outages.

    Rows committed in this process are handed over (`hand_over`) and published from memory,
    without reading them back. The table stays the truth: it is read, oldest row first, at
    start, after any failure, when memory holds more than `MEMORY_BATCHES` batches (the relay
    falls behind), and every `interval` when idle, at least every `MEMORY_BATCHES` intervals
    under load (rows of other processes, rows a crash left unsent). A crash between publish
    and mark republishes the rows: consumers drop the duplicates by event id, so the outbox is
    at-least-once by design.
    """

    MEMORY_BATCHES = 10

    def __init__(
        self,
        db: Database,
        broker: KafkaBroker,
        *,
        service: str,
        producer: RecordProducer | None = None,
        interval: float = 0.2,
        batch_size: int = 500,
        retention: timedelta = timedelta(hours=72),
        max_backoff: float = 10.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.producer = producer
        self.service = service
        self.interval = interval
        self.batch_size = batch_size
        self.retention = retention
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        # Memory holds every row committed since the table was last read in full, oldest first;
        # `_in_memory` is False while the table may hold older unsent rows that memory lacks.
        self._handed: deque[dict[str, Any]] = deque()
        self._in_memory = False
        self._last_read: set[str] = set()
        self._last_read_at = 0.0

    def wake(self) -> None:
        """Ask the relay to look at the outbox now rather than at its next tick."""
        self._wake.set()

    def hand_over(self, rows: Sequence[dict[str, Any]]) -> None:
        """Outbox rows (from `outbox_row`) whose transaction has just committed: publish them
        without reading them back."""
        if self._in_memory:
            # a table read may already have published a row whose hand-over came late
            self._handed.extend(row for row in rows if row["event_id"] not in self._last_read)
            if len(self._handed) > self.MEMORY_BATCHES * self.batch_size:
                self._forget()  # falling behind: the table is the buffer, memory stays small
        self._wake.set()

    def stop(self) -> None:
        """Make `run` return after its current step."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; a failing broker is retried with a growing pause."""
        backoff = self.interval
        last_cleanup = utcnow()
        while not self._stopping.is_set():
            try:
                published = await self.publish_next()
                backoff = self.interval
                if utcnow() - last_cleanup > timedelta(minutes=5):
                    await self.delete_sent_before(utcnow() - self.retention)
                    last_cleanup = utcnow()
            except Exception as error:  # the rows stay unsent; nothing is lost
                log.warning("outbox_publish_failed", error=repr(error), retry_in=backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if not published:
                await self._pause(self.interval)

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def publish_next(self) -> int:
        """One step: the table when it may hold rows memory lacks (or a read is due), else the
        rows handed over; return how many were published."""
        since = time.monotonic() - self._last_read_at
        due = since >= (self.MEMORY_BATCHES if self._handed else 1) * self.interval
        if not self._in_memory or due:
            return await self.publish_pending()
        if not self._handed:
            return 0
        rows = [self._handed.popleft() for _ in range(min(self.batch_size, len(self._handed)))]
        try:
            await self._publish(rows)
            async with self.db.transaction() as session:
                await session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.event_id.in_([row["event_id"] for row in rows]))
                    .values(sent_at=utcnow())
                )
        except BaseException:
            self._forget()  # the rows are still unsent in the table: read them back from there
            raise
        return len(rows)

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows read from the table, oldest first; return how many
        were sent."""
        table = OutboxRecord.__table__
        # Rows committed from now on are newer than what this read returns: keep them in memory.
        self._in_memory = True
        try:
            async with self.db.session() as session:
                rows = (
                    await session.execute(
                        select(table.c.id, table.c.event_id, table.c.event_type, table.c.topic,
                               table.c.key, table.c.value, table.c.headers, table.c.traceparent,
                               table.c.tracestate)
                        .where(table.c.sent_at.is_(None))
                        .order_by(table.c.id)
                        .limit(self.batch_size)
                    )
                ).all()  # fmt: skip
            if rows:
                await self._publish([dict(row._mapping) for row in rows])
                async with self.db.transaction() as session:
                    await session.execute(
                        update(OutboxRecord)
                        .where(OutboxRecord.id.in_([row.id for row in rows]))
                        .values(sent_at=utcnow())
                    )
        except BaseException:
            self._forget()
            raise
        self._last_read = {row.event_id for row in rows}
        self._handed = deque(row for row in self._handed if row["event_id"] not in self._last_read)
        if len(rows) >= self.batch_size:
            self._forget()  # more rows may wait in the table, older than those in memory
        self._last_read_at = time.monotonic()
        if not rows:
            OUTBOX_PENDING.labels(self.service).set(0)
            OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
        return len(rows)

    def _forget(self) -> None:
        self._in_memory = False
        self._handed.clear()

    async def _publish(self, rows: Sequence[dict[str, Any]]) -> None:
        # one PRODUCER span per record, child of the work that emitted it: its traceparent header
        # carries the trace on to every consumer
        spans = [
            publish_span(
                topic=row["topic"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                traceparent=row.get("traceparent"),
                tracestate=row.get("tracestate"),
            )
            for row in rows
        ]
        records = [
            OutgoingRecord(
                topic=row["topic"],
                key=row["key"],
                value=row["value"],
                headers=[*((name, value.encode()) for name, value in row["headers"]), *trace_headers(span)],
            )
            for row, span in zip(rows, spans, strict=True)
        ]
        try:
            if self.producer is not None:
                await self.producer.send(records)
            else:  # FastStream's in-memory test broker
                await publish_records(self.broker, records)
        except BaseException as error:
            end_publish_spans(spans, error)
            raise
        end_publish_spans(spans)
        for event_type, count in Counter(row["event_type"] for row in rows).items():
            OUTBOX_PUBLISHED.labels(self.service, event_type).inc(count)

    async def delete_sent_before(self, cutoff: datetime) -> int:
        """Forget rows published before `cutoff`; return how many were deleted."""
        async with self.db.transaction() as session:
            result = await session.execute(delete(OutboxRecord).where(OutboxRecord.sent_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
