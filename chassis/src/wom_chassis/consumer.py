"""The consume path: decode, validate, one transaction with the inbox, then commit offsets."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from wom_contracts import ContractError, DecodedEvent, Event, decode

from wom_chassis.columns import utcnow
from wom_chassis.database import Database
from wom_chassis.deadletters import DeadLetter, SourceRecord, dead_letter_record, replayed_for
from wom_chassis.logs import event_log_context, get_logger
from wom_chassis.metrics import (
    BATCH_SECONDS,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    HANDLER_FAILURES,
    HANDLER_SECONDS,
    RETRIES,
)
from wom_chassis.publishing import publish_records
from wom_chassis.tables import InboxRecord
from wom_chassis.tracing import consume_span
from wom_chassis.unit_of_work import EventRejected, UnitOfWork

__all__ = ["EventHandlers", "EventProcessor", "Handler", "commit_offsets"]

log = get_logger(__name__)
E = TypeVar("E", bound=Event)
MAX_EVENT_ID_LENGTH = 255


Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Preload = Callable[[AsyncSession, list[Any]], Awaitable[Any]]


class EventHandlers:
    """The handlers of one service, one per consumed event type."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._preloads: dict[str, Preload] = {}

    def on(
        self, model: type[E], *, preload: Preload | None = None
    ) -> Callable[[Callable[[E, UnitOfWork], Awaitable[None]]], Any]:
        """Register the decorated function as the handler of `model`'s event type.

        `preload(session, events)` runs once per run of consecutive events of the type in a
        batch and returns what the handler needs to read (one query instead of one per event);
        the handler finds it as `uow.preloaded` and keeps it current as it writes. A handler
        without a preload reads the database: its buffered rows are flushed after each event.
        """

        def register(function: Callable[[E, UnitOfWork], Awaitable[None]]) -> Any:
            if model.event_type in self._handlers:
                raise ValueError(f"{model.event_type} already has a handler")
            self._handlers[model.event_type] = function
            if preload is not None:
                self._preloads[model.event_type] = preload
            return function

        return register

    def preload_for(self, event_type: str) -> Preload | None:
        """The preload function of `event_type`, if it has one."""
        return self._preloads.get(event_type)

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler of `event_type`, or None when this service does not consume it."""
        return self._handlers.get(event_type)

    @property
    def topics(self) -> list[str]:
        """The topics to subscribe to (topic == event type)."""
        return sorted(self._handlers)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, EventRejected):
        return False
    if isinstance(error, OperationalError | KafkaError | OSError | TimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


@dataclass
class _Item:
    record: SourceRecord
    decoded: DecodedEvent


class EventProcessor:
    """Runs fetched records through the service's handlers with effectively-once effects."""

    def __init__(
        self,
        *,
        db: Database,
        broker: KafkaBroker,
        handlers: EventHandlers,
        service: str,
        source: str,
        dead_letter_topic: str,
        mode: Literal["batch", "record"] = "batch",
        max_attempts: int = 4,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        on_committed: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.handlers = handlers
        self.service = service
        self.source = source
        self.dead_letter_topic = dead_letter_topic
        self.mode = mode
        self.max_attempts = max_attempts
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.on_committed = on_committed

    async def process(self, records: Sequence[SourceRecord]) -> None:
        """Process `records` completely: every one is applied, a duplicate, or dead-lettered."""
        started = time.perf_counter()
        items: list[_Item] = []
        dead: list[DeadLetter] = []
        for record in records:
            target = replayed_for(record)
            if target is not None and target != self.service:
                # another service's dead letter, replayed for it alone; the offset still moves on
                EVENTS_CONSUMED.labels(self.service, _type_of(record), "replay_for_other").inc()
                continue
            decoded = self._decode(record)
            if isinstance(decoded, DeadLetter):
                dead.append(decoded)
            else:
                items.append(decoded)
        if self.mode == "batch" and len(items) > 1:
            try:
                await self._retrying(self._apply, items, transient_only=True)
                items = []
            except Exception as error:
                log.warning("batch_failed_falling_back_to_records", error=repr(error))
        for item in items:
            letter = await self._apply_one(item)
            if letter is not None:
                dead.append(letter)
        if dead:
            await self._dead_letter(dead)
        BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)

    def _decode(self, record: SourceRecord) -> _Item | DeadLetter:
        try:
            decoded = decode(record.value, record.headers)
        except ContractError as error:
            return DeadLetter(record, error.reason, str(error))
        except Exception as error:  # whatever else a stranger's bytes provoke: park them too
            return DeadLetter(record, "invalid_envelope", f"undecodable record: {error!r}")
        if len(decoded.envelope.id) > MAX_EVENT_ID_LENGTH:
            return DeadLetter(record, "invalid_envelope", "ce_id is longer than 255 characters")
        if self.handlers.handler_for(decoded.envelope.type) is None:
            return DeadLetter(
                record,
                "unknown_event_type",
                f"{self.service} does not consume {decoded.envelope.type!r} "
                f"(received on topic {record.topic!r})",
            )
        return _Item(record, decoded)

    async def _apply_one(self, item: _Item) -> DeadLetter | None:
        while True:
            try:
                await self._retrying(self._apply, [item], transient_only=False)
                return None
            except EventRejected as rejected:
                log.warning("event_rejected", event_id=item.decoded.envelope.id, reason=rejected.reason)
                return DeadLetter(item.record, rejected.reason, rejected.detail)
            except Exception as error:
                if _is_transient(error) and not await self._database_reachable():
                    # An outage is not the record's fault: wait for the database, keep the record.
                    log.error("database_unreachable_waiting", error=repr(error))
                    await asyncio.sleep(self.retry_max)
                    continue
                log.error("event_failed", event_id=item.decoded.envelope.id, error=repr(error))
                return DeadLetter(
                    item.record,
                    "handler_failed",
                    f"{type(error).__name__}: {error}",
                    attempts=self.max_attempts,
                )

    async def _database_reachable(self) -> bool:
        try:
            await self.db.ping()
        except Exception:
            return False
        return True

    async def _retrying(
        self,
        function: Callable[[list[_Item]], Awaitable[None]],
        items: list[_Item],
        *,
        transient_only: bool,
    ) -> None:
        def should_retry(error: BaseException) -> bool:
            if isinstance(error, EventRejected):
                return False
            return _is_transient(error) or not transient_only

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.retry_initial, max=self.retry_max),
            retry=retry_if_exception(should_retry),
            reraise=True,
            before_sleep=lambda _state: RETRIES.labels(self.service).inc(),
        ):
            with attempt:
                await function(items)

    async def _apply(self, items: list[_Item]) -> None:
        outcomes: Counter[tuple[str, str]] = Counter()
        async with self.db.transaction() as session:
            fresh = await self._fresh(session, items, outcomes)
            work = UnitOfWork(session, self.source)
            for run in _runs_of_one_type(fresh):
                # a preload reads what earlier runs of this batch wrote, so flush those first
                await work.flush()
                event_type = run[0].decoded.envelope.type
                handler = self.handlers.handler_for(event_type)
                assert handler is not None
                preload = self.handlers.preload_for(event_type)
                if preload is not None:
                    work.preloaded = await preload(session, [item.decoded.event for item in run])
                for item in run:
                    # without a preload the next event of the run reads the database: flush
                    await self._handle(item, handler, work, flush=preload is None)
                    outcomes[item.decoded.envelope.type, "processed"] += 1
                work.preloaded = None
            await work.flush()
            if fresh:
                now = utcnow()
                await session.execute(
                    insert(InboxRecord.__table__),  # Core: complete rows, no ORM bookkeeping
                    [
                        {
                            "event_id": i.decoded.envelope.id,
                            "event_type": i.decoded.envelope.type,
                            "source_topic": i.record.topic,
                            "source_partition": i.record.partition,
                            "source_offset": i.record.offset,
                            "processed_at": now,
                        }
                        for i in fresh
                    ],
                )
        for (event_type, outcome), count in outcomes.items():
            EVENTS_CONSUMED.labels(self.service, event_type, outcome).inc(count)
        if work.outbox and self.on_committed is not None:
            self.on_committed(work.outbox)

    async def _handle(self, item: _Item, handler: Handler, work: UnitOfWork, *, flush: bool) -> None:
        """One event through its handler, in a span continuing the record's trace, timed."""
        envelope, record = item.decoded.envelope, item.record
        work.envelope = envelope
        started = time.perf_counter()
        with (
            event_log_context(envelope.id, envelope.type, envelope.subject),
            consume_span(
                record.headers,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=envelope.id,
                event_type=envelope.type,
            ),
        ):
            try:
                await handler(item.decoded.event, work)
                if flush:
                    await work.flush()
            except EventRejected:
                raise
            except Exception:
                HANDLER_FAILURES.labels(self.service, envelope.type).inc()
                raise
        HANDLER_SECONDS.labels(self.service, envelope.type).observe(time.perf_counter() - started)

    async def _fresh(
        self, session: AsyncSession, items: list[_Item], outcomes: Counter[tuple[str, str]]
    ) -> list[_Item]:
        """The items whose event id is neither in the inbox nor earlier in the batch."""
        ids = [item.decoded.envelope.id for item in items]
        seen = set(
            (await session.scalars(select(InboxRecord.event_id).where(InboxRecord.event_id.in_(ids)))).all()
        )
        fresh = []
        for item in items:
            envelope = item.decoded.envelope
            if envelope.id in seen:
                outcomes[envelope.type, "duplicate"] += 1
                continue
            seen.add(envelope.id)
            fresh.append(item)
        return fresh

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        records = [
            dead_letter_record(letter, service=self.service, topic=self.dead_letter_topic)
            for letter in letters
        ]
        delay = self.retry_initial
        while True:  # a dead letter must not be lost either: wait out a broker outage
            try:
                await publish_records(self.broker, records)
                break
            except Exception as error:
                log.error("dead_letter_publish_failed", error=repr(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
        for letter in letters:
            log.warning(
                "dead_lettered",
                reason=letter.reason,
                error=letter.error,
                topic=letter.record.topic,
                partition=letter.record.partition,
                offset=letter.record.offset,
            )
            DEAD_LETTERS.labels(self.service, letter.reason).inc()
            EVENTS_CONSUMED.labels(self.service, _type_of(letter.record), "dead_lettered").inc()


def _runs_of_one_type(items: list[_Item]) -> list[list[_Item]]:
    """Consecutive items of one event type: a handler's preload serves one run at a time."""
    runs: list[list[_Item]] = []
    for item in items:
        if runs and runs[-1][0].decoded.envelope.type == item.decoded.envelope.type:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _type_of(record: SourceRecord) -> str:
    for name, value in record.headers:
        if name.lower() == "ce_type" and value is not None:
            return value.decode("utf-8", "replace")[:100]
    return "unknown"


async def commit_offsets(consumer: Any, records: Sequence[SourceRecord]) -> None:
    """Commit, per partition, the offset after the last of `records` (all of them are done)."""
    if not isinstance(consumer, AIOKafkaConsumer) or not records:
        return  # FastStream's in-memory test broker has no offsets
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    try:
        await consumer.commit(offsets)
    except KafkaError as error:
        # A rebalance took the partition away; its new owner redelivers and the inbox dedupes.
        log.warning("offset_commit_failed", error=repr(error))
