"""The outbox relay: rows a transaction committed are published from memory, a batch per
partition per round; a sweeper publishes from the table what memory did not; every round marks
its rows sent in one statement.

The table is the truth. Memory holds the rows this process committed since the table was last
read in full, in commit order, and is used only while nothing older of this process waits in
the table. At start, after memory overflowed and after a round from the table failed, the
sweeper reads every unsent row, oldest first, until a read comes back short and all of it went
out; memory takes over from there. Meanwhile the sweeper looks, every `sweep_after` seconds,
only for rows that have waited that long and are not in memory: another process's, whose relay
died or fell behind.

Order: each key goes to the partition the default producer would pick (`KeyPartitioner`), and a
partition gets at most one batch per round, the next only once the broker acknowledged it. A
failed batch goes back to the head of memory (or stays unsent in the table, read in order), so
no later row of its key overtakes it; nor does the sweeper send a row whose key still has a row
in memory. A crash between publish and mark, or an acknowledgement
lost on the way back, publishes rows again: at-least-once; consumers drop the copies by event
id, and the first copies are in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from wom_chassis.columns import utcnow
from wom_chassis.database import Database, scrub_after_commit
from wom_chassis.errors import error_code
from wom_chassis.logs import get_logger
from wom_chassis.metrics import OUTBOX_OLDEST_SECONDS, OUTBOX_PENDING, OUTBOX_PUBLISHED
from wom_chassis.publishing import BatchProducer, KeyPartitioner, RecordBatch
from wom_chassis.tables import OutboxRecord
from wom_chassis.tracing import BatchSpan

__all__ = ["OutboxRelay"]

log = get_logger(__name__)
Row = dict[str, Any]
_TABLE = OutboxRecord.__table__
# rows about a customer erased while they waited: read from the partial index alone. Asked with
# `sent_at IS NOT NULL` beside it, SQLite's planner may walk ix_outbox_unsent over every sent row
_TO_FORGET = select(_TABLE.c.id, _TABLE.c.sent_at).where(_TABLE.c.forget_when_sent.is_not(None))
_COLUMNS = (
    _TABLE.c.id, _TABLE.c.event_id, _TABLE.c.event_type, _TABLE.c.topic, _TABLE.c.key, _TABLE.c.value,
    _TABLE.c.headers, _TABLE.c.traceparent, _TABLE.c.tracestate,
)  # fmt: skip


@dataclass
class _Batch:
    """One partition's records of a round."""

    topic: str
    partition: int
    records: RecordBatch
    span: BatchSpan
    rows: list[Row] = field(default_factory=list)


@dataclass
class _Round:
    """What a round published, and what it did not (in order, per partition)."""

    sent: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)
    error: BaseException | None = None


class OutboxRelay:
    """Publishes outbox rows, per key in the order they were committed, and marks them sent;
    waits out broker outages (see the module's docstring for how)."""

    MEMORY_ROUNDS = 10
    """Memory holds at most this many rounds of rows; beyond, the table is the buffer."""

    def __init__(
        self,
        db: Database,
        producer: BatchProducer,
        *,
        service: str,
        interval: float = 0.2,
        batch_size: int = 500,
        sweep_after: float = 2.0,
        retention: timedelta = timedelta(hours=72),
        max_backoff: float = 10.0,
    ) -> None:
        self.db = db
        self.producer = producer
        self.service = service
        self.interval = interval
        self.batch_size = batch_size
        self.sweep_after = sweep_after
        self.retention = retention
        self.max_backoff = max_backoff
        self._partitioner = KeyPartitioner()
        self._published: dict[str, Any] = {}  # event type -> its bound counter
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._memory: deque[Row] = deque()
        self._accepting = False  # hand_over keeps rows (from the start of a read that may complete)
        self._in_step = False  # memory holds every unsent row of this process the table does
        self._generation = 0  # a new one each time memory is forgotten
        self._last_read: set[str] = set()
        self._next_sweep = 0.0

    def wake(self) -> None:
        """Ask the relay to look now rather than at its next tick."""
        self._wake.set()

    def hand_over(self, rows: Iterable[Row]) -> None:
        """Outbox rows (from `outbox_row`) whose transaction has just committed, in order: publish
        them without reading them back."""
        if self._accepting:
            # a read of the table may already have published a row whose hand-over came late
            self._memory.extend(row for row in rows if row["event_id"] not in self._last_read)
            if len(self._memory) > self.MEMORY_ROUNDS * self.batch_size:
                self._forget()  # falling behind: the table is the buffer, memory stays small
        self._wake.set()

    def stop(self) -> None:
        """Make `run` return after its current step."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; a failing broker or database is retried with a growing pause."""
        backoff = self.interval
        last_cleanup = time.monotonic()
        while not self._stopping.is_set():
            try:
                published = await self.publish_next()
                backoff = self.interval
                if time.monotonic() - last_cleanup > 300:
                    await self.delete_sent_before(utcnow() - self.retention)
                    last_cleanup = time.monotonic()
            except Exception as error:  # the rows stay unsent; nothing is lost
                log.warning("outbox_publish_failed", error=error_code(error), retry_in=backoff)
                await self._pause(backoff, self._stopping)  # new rows do not cut a backoff short
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if not published:
                await self._pause(self.interval, self._wake)

    async def _pause(self, seconds: float, until: asyncio.Event) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout=seconds)
        self._wake.clear()

    async def publish_next(self) -> int:
        """One round: the table while memory may lack rows, leftovers when a sweep is due, else
        memory; return how many rows were published. Raises when any batch failed (what the
        others published is marked sent first)."""
        if not self._in_step:
            return await self._catch_up()
        if time.monotonic() >= self._next_sweep:
            swept = await self._sweep_leftovers()
            if swept:
                return swept
        return await self._publish_memory()

    async def flush(self) -> None:
        """Publish every unsent row, oldest first, a round at a time (memory's too: they are all
        in the table); for a stopping service. Raises when the broker fails."""
        self._forget()
        while await self._catch_up() or not self._in_step:
            pass

    def _forget(self) -> None:
        self._accepting = False
        self._in_step = False
        self._memory.clear()
        self._generation += 1

    async def _catch_up(self) -> int:
        """Publish the oldest unsent rows, whoever wrote them; memory is in step again once a
        read found less than a round and all of it went out."""
        self._accepting = True  # rows committed from now on are newer than what this read misses
        rows = await self._unsent(older_than=None)
        try:
            done = await self._publish_round(deque(rows))
        except BaseException:
            self._forget()
            raise
        self._last_read = {row["event_id"] for row in rows}
        if done.error is not None or len(rows) >= self.batch_size or len(done.sent) < len(rows):
            self._forget()  # older rows than memory's may still wait in the table
        else:
            kept = [row for row in self._memory if row["event_id"] not in self._last_read]
            self._memory.clear()
            self._memory.extend(kept)
            self._in_step = True
            self._next_sweep = time.monotonic() + self.sweep_after
        if not rows:
            OUTBOX_PENDING.labels(self.service).set(0)
            OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
        if done.error is not None:
            raise done.error
        return len(done.sent)

    async def _sweep_leftovers(self) -> int:
        """Publish rows that waited `sweep_after` seconds and are not in memory: other
        processes' rows, or rows whose hand-over never came. A row whose key still has a row in
        memory waits: it is newer (a transaction hands its rows over after its commit, so a slow
        one's may be old and not handed over yet), and sending it now would overtake its key."""
        in_memory = {row["event_id"] for row in self._memory}
        waiting = {(row["topic"], row["key"]) for row in self._memory}
        read = await self._unsent(older_than=self.sweep_after)
        rows = [
            row
            for row in read
            if row["event_id"] not in in_memory and (row["topic"], row["key"]) not in waiting
        ]
        done = await self._publish_round(deque(rows)) if rows else _Round()
        more = len(read) >= self.batch_size or len(done.sent) + len(done.failed) < len(rows)
        # more may wait (a full read, rows that did not fit): look again next round
        self._next_sweep = time.monotonic() + (0 if more and done.sent else self.sweep_after)
        if done.error is not None:
            raise done.error
        return len(done.sent)

    async def _publish_memory(self) -> int:
        generation = self._generation
        try:
            done = await self._publish_round(self._memory)
        except BaseException:
            self._forget()  # rows taken out of memory may be lost: the table has them, in order
            raise
        if done.failed and generation == self._generation:
            self._memory.extendleft(reversed(done.failed))  # first again, before anything newer
        if done.error is not None:
            raise done.error
        return len(done.sent)

    async def _publish_round(self, rows: deque[Row]) -> _Round:
        """Up to `batch_size` rows from the head of `rows` into one batch per partition, sent
        together; the sent rows are marked in one statement. Rows that did not fit in their
        partition's batch stay at the head of `rows`, in order; a failed batch's rows come back
        in `failed`."""
        generation = self._generation
        batches, rest = await self._fill(rows)
        if rest and generation == self._generation:
            rows.extendleft(reversed(rest))
        done = _Round()
        deliveries: list[tuple[_Batch, Any]] = []
        for batch in batches:
            batch.records.close()
            try:
                delivery = await self.producer.send_batch(batch.records, batch.topic, batch.partition)
            except Exception as error:
                done.error = error
                self._failed(batch, done, error)
            else:
                deliveries.append((batch, delivery))
        for batch, delivery in deliveries:  # queued together, acknowledged one by one
            try:
                await delivery
            except Exception as error:
                done.error = error
                self._failed(batch, done, error)
            else:
                batch.span.end(len(batch.rows))
                done.sent += batch.rows
                self._count(batch)
        if done.sent:
            try:
                await self._mark_sent(done.sent)
            except Exception as error:
                # published, not marked: the sweeper publishes them again (consumers dedupe)
                done.error = done.error or error
        return done

    async def _fill(self, rows: deque[Row]) -> tuple[list[_Batch], list[Row]]:
        """Take up to `batch_size` rows from the head of `rows` into their partitions' batches;
        return the batches and the rows whose partition's batch was full, in order."""
        batches: dict[tuple[str, int], _Batch] = {}
        full: set[tuple[str, int]] = set()
        partitions: dict[str, list[int]] = {}
        rest: list[Row] = []
        taken = 0
        try:
            while rows and taken < self.batch_size:
                row = rows[0]
                ids = partitions.get(row["topic"])
                if ids is None:  # from metadata, once per topic and round: a new partition count shows
                    ids = partitions[row["topic"]] = await self.producer.partitions(row["topic"])
                    if not rows or rows[0] is not row:
                        break  # memory was forgotten meanwhile
                rows.popleft()
                if self._append(row, ids, batches, full):
                    taken += 1
                else:
                    rest.append(row)
        except BaseException as error:
            for batch in batches.values():
                batch.span.end(len(batch.rows), error)
            raise
        return list(batches.values()), rest

    def _append(
        self, row: Row, ids: list[int], batches: dict[tuple[str, int], _Batch], full: set[tuple[str, int]]
    ) -> bool:
        """Add `row` to its partition's batch; False when that batch is full (it waits a round)."""
        where = (row["topic"], self._partitioner(row["key"], ids))
        if where in full:
            return False
        batch = batches.get(where)
        if batch is None:
            batch = batches[where] = _Batch(*where, self.producer.create_batch(), BatchSpan(*where))
        headers = [(name, value.encode()) for name, value in row["headers"]]
        headers += batch.span.record_headers(row.get("traceparent"), row.get("tracestate"))
        if batch.records.append(timestamp=None, key=row["key"], value=row["value"], headers=headers) is None:
            full.add(where)
            return False
        batch.rows.append(row)
        return True

    @staticmethod
    def _failed(batch: _Batch, done: _Round, error: BaseException) -> None:
        batch.span.end(len(batch.rows), error)
        done.failed += batch.rows

    def _count(self, batch: _Batch) -> None:
        # a batch is one topic, and a topic one event type: one increment per batch
        event_type = batch.rows[0]["event_type"]
        counter = self._published.get(event_type)
        if counter is None:
            counter = self._published[event_type] = OUTBOX_PUBLISHED.labels(self.service, event_type)
        counter.inc(len(batch.rows))

    async def _unsent(self, *, older_than: float | None) -> list[Row]:
        """Up to `batch_size` unsent rows, oldest first (only those older than `older_than` s)."""
        query = select(*_COLUMNS).where(_TABLE.c.sent_at.is_(None))
        if older_than is not None:
            query = query.where(_TABLE.c.created_at < utcnow() - timedelta(seconds=older_than))
        async with self.db.session() as session:
            result = await session.execute(query.order_by(_TABLE.c.id).limit(self.batch_size))
            names = tuple(result.keys())
            return [dict(zip(names, row, strict=True)) for row in result.all()]

    async def _mark_sent(self, rows: list[Row]) -> None:
        """One statement: by id where the row has one (read from the table), else by event id."""
        ids = [row["id"] for row in rows if "id" in row]
        event_ids = [row["event_id"] for row in rows if "id" not in row]
        chosen = [_TABLE.c.id.in_(ids)] if ids else []
        chosen += [_TABLE.c.event_id.in_(event_ids)] if event_ids else []
        async with self.db.transaction() as session:
            await session.execute(update(_TABLE).where(or_(*chosen)).values(sent_at=utcnow()))
            # published now, then forgotten; there are none on almost every round
            sent = [row_id for row_id, sent_at in await session.execute(_TO_FORGET) if sent_at]
            if sent:
                await session.execute(delete(_TABLE).where(_TABLE.c.id.in_(sent)))
                scrub_after_commit(session)

    async def delete_sent_before(self, cutoff: datetime) -> int:
        """Forget rows published before `cutoff`; return how many were deleted."""
        async with self.db.transaction() as session:
            result = await session.execute(delete(OutboxRecord).where(OutboxRecord.sent_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
