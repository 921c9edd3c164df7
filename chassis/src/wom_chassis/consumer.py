"""The consume path: decode, validate, one transaction with the inbox, then commit offsets."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from wom_contracts import EVENT_TYPES, ContractError, DecodedEvent, Event, decode, producers_of

from wom_chassis.columns import utcnow
from wom_chassis.database import Database, serialise
from wom_chassis.deadletters import DeadLetter, SourceRecord, dead_letter_record, replayed_for
from wom_chassis.driver import claim_new
from wom_chassis.errors import error_code
from wom_chassis.logs import LogContext, batch_log_context, get_logger
from wom_chassis.metrics import BATCH_SECONDS, DEAD_LETTERS, RETRIES, ConsumeMetrics
from wom_chassis.publishing import RecordSender
from wom_chassis.tables import InboxRecord
from wom_chassis.tracing import consume_span, record_trace_context
from wom_chassis.unit_of_work import EventRejected, UnitOfWork, View

__all__ = ["EventHandlers", "EventProcessor", "Handler", "ViewLoader", "commit_offsets"]

log = get_logger(__name__)
E = TypeVar("E", bound=Event)
MAX_EVENT_ID_LENGTH = 255


Handler = Callable[[Any, UnitOfWork[Any]], Awaitable[None]]
ViewLoader = Callable[[AsyncSession, Sequence[Event]], Awaitable[View]]


@dataclass(frozen=True)
class _Registration:
    handler: Handler
    reads_database: bool


class EventHandlers(Generic[View]):
    """The handlers of one service, one per consumed event type, and the view they share.

    `load_view(session, events)` runs once per transaction (a batch, or one event in record
    mode) with every event to be handled in it, and returns what the handlers read (one query
    per table instead of one per event); handlers find it as `uow.view` and keep it current as
    they write, so that an event sees what the events before it in the batch did.

    Where several processes consume (`WORKERS`), a transaction first locks its records' keys
    and `lock_names(events)`: what the events read and write beyond their own key (another
    customer, a shared budget), so that two processes never work on the same thing at once.
    """

    def __init__(
        self,
        load_view: ViewLoader[View] | None = None,
        *,
        lock_names: Callable[[Sequence[Event]], Iterable[str]] | None = None,
    ) -> None:
        self._handlers: dict[str, _Registration] = {}
        self.load_view = load_view
        self.lock_names = lock_names

    def on(
        self, model: type[E], *, reads_database: bool = False
    ) -> Callable[[Callable[[E, UnitOfWork[View]], Awaitable[None]]], Any]:
        """Register the decorated function as the handler of `model`'s event type.

        A handler that reads the database itself rather than the view (`reads_database`) sees
        what the batch wrote before it: the buffered rows are written before it runs and after.
        A service without a view reads the database in every handler.
        """

        def register(function: Callable[[E, UnitOfWork[View]], Awaitable[None]]) -> Any:
            if model.event_type in self._handlers:
                raise ValueError(f"{model.event_type} already has a handler")
            self._handlers[model.event_type] = _Registration(
                function, reads_database or self.load_view is None
            )
            return function

        return register

    def registration(self, event_type: str) -> _Registration | None:
        """How `event_type` is handled, or None when this service does not consume it."""
        return self._handlers.get(event_type)

    def handler_for(self, event_type: str) -> Handler | None:
        """The handler of `event_type`, or None when this service does not consume it."""
        registration = self._handlers.get(event_type)
        return None if registration is None else registration.handler

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


@dataclass(slots=True)
class _Item:
    record: SourceRecord
    decoded: DecodedEvent


class EventProcessor:
    """Runs fetched records through the service's handlers with effectively-once effects."""

    def __init__(
        self,
        *,
        db: Database,
        records: RecordSender,
        handlers: EventHandlers[Any],
        service: str,
        source: str,
        dead_letter_topic: str,
        mode: Literal["batch", "record"] = "batch",
        max_attempts: int = 4,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        on_committed: Callable[[list[dict[str, Any]]], None] | None = None,
        upstream_sources: frozenset[str] | None = None,
    ) -> None:
        self.db = db
        self.records = records
        self.handlers = handlers
        self.service = service
        self.source = source
        self.dead_letter_topic = dead_letter_topic
        self.mode = mode
        self.max_attempts = max_attempts
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.on_committed = on_committed
        self.upstream_sources = upstream_sources
        self._producers: dict[str, frozenset[str] | None] = {}  # event type -> its sources (None: any)
        self._metrics = ConsumeMetrics(service)
        self._batch_seconds = BATCH_SECONDS.labels(service)

    async def process(self, records: Sequence[SourceRecord]) -> None:
        """Process `records` completely: every one is applied, a duplicate, or dead-lettered."""
        started = time.perf_counter()
        items: list[_Item] = []
        dead: list[DeadLetter] = []
        for record in records:
            target = replayed_for(record)
            if target is not None and target != self.service:
                # another service's dead letter, replayed for it alone; the offset still moves on
                self._metrics.consumed(_type_of(record), "replay_for_other").inc()
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
                log.warning("batch_failed_falling_back_to_records", error=error_code(error))
        for item in items:
            letter = await self._apply_one(item)
            if letter is not None:
                dead.append(letter)
        if dead:
            await self.dead_letter(dead)
        self._batch_seconds.observe(time.perf_counter() - started)

    def _decode(self, record: SourceRecord) -> _Item | DeadLetter:
        try:
            decoded = decode(record.value, record.headers)
        except ContractError as error:
            return DeadLetter(record, error.reason, str(error))
        except Exception as error:  # whatever else a stranger's bytes provoke: park them too
            return DeadLetter(record, "invalid_envelope", f"undecodable record: {error_code(error)}")
        if len(decoded.envelope.id) > MAX_EVENT_ID_LENGTH:
            return DeadLetter(record, "invalid_envelope", "ce_id is longer than 255 characters")
        if self.handlers.handler_for(decoded.envelope.type) is None:
            return DeadLetter(
                record,
                "unknown_event_type",
                f"{self.service} does not consume {decoded.envelope.type!r} "
                f"(received on topic {record.topic!r})",
            )
        event_type = decoded.envelope.type
        if event_type not in self._producers:
            self._producers[event_type] = producers_of(event_type, self.upstream_sources)
        producers = self._producers[event_type]
        if producers is not None and decoded.envelope.source not in producers:
            # anyone who can write to the topic is not its producer: the broker's ACLs say who
            # may write, this says whose events these are (the value is a stranger's: not quoted)
            allowed = ", ".join(sorted(producers)) or "no upstream publisher named (UPSTREAM_SOURCES)"
            return DeadLetter(
                record, "unexpected_source", f"{event_type} is published by {allowed}, not this ce_source"
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
                    log.error("database_unreachable_waiting", error=error_code(error))
                    await asyncio.sleep(self.retry_max)
                    continue
                log.error("event_failed", event_id=item.decoded.envelope.id, error=error_code(error))
                return DeadLetter(
                    item.record,
                    "handler_failed",
                    error_code(error),
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
        """One transaction: claim the batch's event ids in the inbox, load the view, run each
        new event through its handler, write what they buffered. Bookkeeping is per batch: one
        span linked to every record's trace, one count per event type and outcome."""
        outcomes: Counter[tuple[str, str]] = Counter()
        contexts = [record_trace_context(item.record.headers) for item in items]
        topics = sorted({item.record.topic for item in items})
        with consume_span(topics, len(items), contexts), batch_log_context() as log_context:
            async with self.db.transaction() as session:
                await serialise(session, self._lock_names(items))
                fresh = await self._claim(session, items, outcomes)
                events = [item.decoded.event for item in fresh]
                loader = self.handlers.load_view
                view = None if loader is None else await loader(session, events)
                work: UnitOfWork[Any] = UnitOfWork(session, self.source, view)
                timing: dict[str, float] = {}
                for item in fresh:
                    await self._handle(item, work, timing, log_context)
                await work.flush()
        for event_type, seconds in timing.items():
            count = outcomes[event_type, "processed"]
            self._metrics.handler_seconds(event_type).observe(seconds / max(count, 1))
        for (event_type, outcome), count in outcomes.items():
            self._metrics.consumed(event_type, outcome).inc(count)
        if work.outbox and self.on_committed is not None:
            self.on_committed(work.outbox)

    def _lock_names(self, items: list[_Item]) -> set[str | bytes]:
        """What a transaction locks, all in one statement (so in one order): its records' keys
        and what the service names for its events."""
        names: set[str | bytes] = {item.record.key for item in items if item.record.key}
        if self.handlers.lock_names is not None:
            names.update(self.handlers.lock_names([item.decoded.event for item in items]))
        return names

    async def _handle(
        self, item: _Item, work: UnitOfWork[Any], timing: dict[str, float], log_context: LogContext
    ) -> None:
        envelope = item.decoded.envelope
        log_context.about(envelope.id, envelope.type, envelope.subject)
        registration = self.handlers.registration(envelope.type)
        assert registration is not None
        reads_database = registration.reads_database
        if reads_database:
            await work.flush()
        work.begin_event(envelope, record_trace_context(item.record.headers))
        started = time.perf_counter()
        try:
            await registration.handler(item.decoded.event, work)
            if reads_database:
                await work.flush()
        except EventRejected:
            raise
        except Exception:
            self._metrics.failures(envelope.type).inc()
            raise
        timing[envelope.type] = timing.get(envelope.type, 0.0) + time.perf_counter() - started

    async def _claim(
        self, session: AsyncSession, items: list[_Item], outcomes: Counter[tuple[str, str]]
    ) -> list[_Item]:
        """The items whose event id is neither in the inbox nor earlier in the batch, their ids
        now in the inbox: one `INSERT … ON CONFLICT DO NOTHING RETURNING`."""
        first: dict[str, _Item] = {}
        for item in items:
            envelope = item.decoded.envelope
            if envelope.id in first:
                outcomes[envelope.type, "duplicate"] += 1
            else:
                first[envelope.id] = item
        now = utcnow()
        claimed = await claim_new(
            session,
            InboxRecord.__table__,
            [
                {
                    "event_id": event_id,
                    "event_type": item.decoded.envelope.type,
                    "source_topic": item.record.topic,
                    "source_partition": item.record.partition,
                    "source_offset": item.record.offset,
                    "processed_at": now,
                }
                for event_id, item in first.items()
            ],
            key="event_id",
        )
        fresh = []
        for event_id, item in first.items():
            if event_id in claimed:
                outcomes[item.decoded.envelope.type, "processed"] += 1
                fresh.append(item)
            else:
                outcomes[item.decoded.envelope.type, "duplicate"] += 1
        return fresh

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Park `letters` on the service's dead-letter topic, byte for byte with the `dlq.*`
        headers, waiting out a broker outage; log and count each."""
        records = [
            dead_letter_record(letter, service=self.service, topic=self.dead_letter_topic)
            for letter in letters
        ]
        delay = self.retry_initial
        while True:  # a dead letter must not be lost either: wait out a broker outage
            try:
                await self.records.send_records(records)
                break
            except Exception as error:
                log.error("dead_letter_publish_failed", error=error_code(error), retry_in=delay)
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
            self._metrics.consumed(_type_of(letter.record), "dead_lettered").inc()


def _type_of(record: SourceRecord) -> str:
    """The record's event type as a metric label: one of the contracts' types, else `unknown`
    (a label per value a publisher makes up would grow the series without bound)."""
    for name, value in record.headers:
        if name.lower() == "ce_type" and value is not None:
            event_type = value.decode("utf-8", "replace")
            return event_type if event_type in EVENT_TYPES else "unknown"
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
        log.warning("offset_commit_failed", error=error_code(error))
