"""Traces run from an inbound record's `traceparent` through the outbox to the published record,
and into mail; a record without one starts a new trace; the relay's spans are one per batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer, SpanKind
from sqlalchemy import insert, select
from wom_chassis import Database, EventHandlers, EventProcessor, UnitOfWork, tracing, unit_of_work
from wom_chassis.mail import MailPool, MailSettings
from wom_chassis.mime import Mail, MailComposer
from wom_chassis.outbox import outbox_row
from wom_chassis.relay import OutboxRelay
from wom_chassis.tables import OutboxRecord
from wom_chassis.tracing import continue_trace
from wom_contracts import Money, OrderCompletedV1
from wom_testkit import MailInbox, record_of, span_recorder

from .conftest import FakeProducer, TopicSink

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{UPSTREAM_SPAN}-01"
TOPIC = OrderCompletedV1.event_type
COMPOSER = MailComposer("wom <hello@wom.localhost>")


def mail(text: str, subject: str = "hello") -> Mail:
    return COMPOSER.compose("ada@example.com", subject, text)


def order(n: int) -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=f"o-{n}",
        customer_id="c-1",
        total=Money(amount=Decimal("10.00"), currency="EUR"),
        completed_at=datetime(2026, 11, 1, 12, tzinfo=UTC),
    )


def parts(traceparent: str) -> tuple[str, str]:
    """The trace id and parent span id of a traceparent."""
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert version == "00"
    return trace_id, span_id


@pytest.fixture
def outbound() -> TopicSink:
    """Where the processor under test sends its dead letters."""
    return TopicSink("test.dlq")


@pytest.fixture
def published() -> FakeProducer:
    """What the relay publishes, as a cluster would get it."""
    return FakeProducer()


async def publish(db: Database, producer: FakeProducer) -> None:
    """Everything in the outbox through the relay."""
    await OutboxRelay(db, producer, service="test").flush()  # type: ignore[arg-type]


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return span_recorder()


@pytest.fixture
def smtp() -> Iterator[tuple[MailInbox, MailSettings]]:
    with MailInbox() as inbox:
        yield inbox, MailSettings(smtp_port=inbox.port)


def processor(db: Database, dead_letters: TopicSink, handlers: EventHandlers) -> EventProcessor:
    return EventProcessor(
        db=db, records=dead_letters, handlers=handlers, service="test", source="wom/test",
        dead_letter_topic="test.dlq", max_attempts=1,
    )  # fmt: skip


def echo() -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(OrderCompletedV1)
    async def re_emit(event: OrderCompletedV1, uow: UnitOfWork) -> None:
        uow.emit(event)

    return handlers


def traced(n: int, traceparent: str | None = TRACEPARENT, **kwargs: Any) -> Any:
    record = record_of(order(n), offset=n, **kwargs)
    if traceparent:
        record.headers.append(("traceparent", traceparent.encode()))
    return record


@pytest.mark.parametrize("mode", ["batch", "record"])
async def test_an_emitted_event_is_published_in_the_inbound_events_trace(
    db: Database, outbound: TopicSink, published: FakeProducer, spans: InMemorySpanExporter, mode: str
) -> None:
    """One CONSUMER span per transaction (the batch, or one record), linked to each record's
    trace; what a handler emits carries its own cause's trace context, so the trace runs on
    from the upstream span; a record without one continues the batch's trace. The relay sends
    each record with the context of its row, in one PRODUCER span per batch linked to them."""
    work = processor(db, outbound, echo())
    work.mode = mode  # type: ignore[assignment]
    records = [traced(1), traced(2, traceparent=None)]
    await work.process(records)
    async with db.session() as session:
        stored = (await session.scalars(select(OutboxRecord.traceparent).order_by(OutboxRecord.id))).all()
    assert stored[0] == TRACEPARENT  # the cause's own context, not the batch's
    assert stored[1] is not None and parts(stored[1])[0] != TRACE_ID

    consumers = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert len(consumers) == (1 if mode == "batch" else 2)
    first = consumers[0]
    assert first.parent is None  # a trace of the batch's own
    assert [(link.context.trace_id, link.context.span_id) for link in first.links] == [
        (int(TRACE_ID, 16), int(UPSTREAM_SPAN, 16))
    ]
    assert first.attributes is not None
    assert first.attributes["messaging.system"] == "kafka"
    assert first.attributes["messaging.operation.type"] == "process"
    assert first.attributes["messaging.destination.name"] == TOPIC
    assert first.attributes["messaging.batch.message_count"] == (2 if mode == "batch" else 1)
    assert parts(stored[1])[0] == f"{consumers[-1].context.trace_id:032x}"

    await publish(db, published)
    headers = published.headers(0)
    assert headers["traceparent"] == stored[0]  # the record carries its cause's trace on
    assert published.headers(1)["traceparent"] == stored[1]
    assert headers["ce_type"] == TOPIC and headers["content-type"] == "application/json"  # binary mode kept
    # one PRODUCER span for the batch (both records have one key: one partition), linked to the
    # context each record was emitted with
    (producer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert producer.name == f"send {TOPIC}" and producer.parent is None
    assert producer.attributes is not None
    assert producer.attributes["messaging.batch.message_count"] == 2
    linked = {(link.context.trace_id, link.context.span_id) for link in producer.links}
    assert linked == {tuple(int(part, 16) for part in parts(context)) for context in stored}


async def test_a_batch_that_fails_ends_its_span_as_failed(
    db: Database, outbound: TopicSink, spans: InMemorySpanExporter
) -> None:
    await processor(db, outbound, echo()).process([traced(1)])
    down = FakeProducer()
    down.down = True
    with pytest.raises(ConnectionError):
        await publish(db, down)
    (failed,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert not failed.status.is_ok and failed.status.description == "ConnectionError"
    assert [event.name for event in failed.events] == ["exception"]


async def test_a_record_without_a_traceparent_starts_a_new_trace(
    db: Database, outbound: TopicSink, published: FakeProducer, spans: InMemorySpanExporter
) -> None:
    await processor(db, outbound, echo()).process([traced(1, traceparent=None)])
    await publish(db, published)
    trace_id, _ = parts(published.headers(0)["traceparent"])
    (consumer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert consumer.parent is None
    assert trace_id == f"{consumer.context.trace_id:032x}" != TRACE_ID


async def test_an_unreadable_traceparent_starts_a_new_trace_and_the_event_is_still_handled(
    db: Database, outbound: TopicSink, published: FakeProducer, spans: InMemorySpanExporter
) -> None:
    await processor(db, outbound, echo()).process([traced(1, traceparent="00-nonsense")])
    await publish(db, published)
    assert len(published.records) == 1
    (consumer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert consumer.parent is None


async def test_a_mail_sent_while_handling_an_event_carries_its_trace(
    db: Database, outbound: TopicSink, spans: InMemorySpanExporter, smtp: tuple[MailInbox, MailSettings]
) -> None:
    inbox, settings = smtp
    handlers = EventHandlers()

    @handlers.on(OrderCompletedV1)
    async def thank(event: OrderCompletedV1, uow: UnitOfWork) -> None:
        async with MailPool(settings) as pool:
            await pool.send(mail("thanks", f"thanks for {event.order_id}"))

    await processor(db, outbound, handlers).process([traced(1)])
    (received,) = inbox.messages
    trace_id, span_id = parts(str(received["traceparent"]))
    (sent,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    (consumer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert trace_id == f"{consumer.context.trace_id:032x}"  # in the batch's span, linked to the event's
    assert [link.context.trace_id for link in consumer.links] == [int(TRACE_ID, 16)]
    assert sent.context.span_id == int(span_id, 16)
    assert sent.parent is not None and sent.parent.span_id == consumer.context.span_id


async def test_work_done_later_for_an_event_continues_its_stored_trace(
    db: Database,
    outbound: TopicSink,
    published: FakeProducer,
    spans: InMemorySpanExporter,
    smtp: tuple[MailInbox, MailSettings],
) -> None:
    """The pattern of a queued message: the handler stores `uow.trace_context`, a job later sends
    the mail and emits the outcome inside `continue_trace`."""
    stored: list[tuple[str | None, str | None]] = []
    handlers = EventHandlers()

    @handlers.on(OrderCompletedV1)
    async def queue(event: OrderCompletedV1, uow: UnitOfWork) -> None:
        stored.append(uow.trace_context)

    await processor(db, outbound, handlers).process([traced(1)])
    inbox, settings = smtp
    with continue_trace("deliver message", *stored[0]):
        async with MailPool(settings) as pool:
            await pool.send(mail("later"))
        async with unit_of_work(db, source="wom/test") as uow:
            uow.emit(order(9))
    await publish(db, published)
    assert parts(str(inbox.messages[0]["traceparent"]))[0] == TRACE_ID
    assert parts(published.headers(0)["traceparent"])[0] == TRACE_ID


async def test_a_mail_sent_again_carries_the_trace_of_that_attempt_only(
    smtp: tuple[MailInbox, MailSettings],
) -> None:
    inbox, settings = smtp
    composed = mail("once composed, twice sent")
    other = f"00-{'1' * 32}-{UPSTREAM_SPAN}-01"
    async with MailPool(settings) as pool:
        for traceparent in (TRACEPARENT, other):
            with continue_trace("deliver message", traceparent):
                await pool.send(composed)
    assert [len(m.get_all("traceparent") or []) for m in inbox.messages] == [1, 1]
    assert [parts(str(m["traceparent"]))[0] for m in inbox.messages] == [TRACE_ID, "1" * 32]


async def test_a_job_outside_any_trace_publishes_in_a_trace_of_its_own(
    db: Database, published: FakeProducer, spans: InMemorySpanExporter
) -> None:
    async with unit_of_work(db, source="wom/test") as uow:
        uow.emit(order(1))
    async with db.session() as session:
        assert await session.scalar(select(OutboxRecord.traceparent)) is None
    await publish(db, published)
    (producer,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.PRODUCER]
    assert producer.parent is None and not producer.links
    trace_id, parent_id = parts(published.headers(0)["traceparent"])
    assert (trace_id, parent_id) == (f"{producer.context.trace_id:032x}", f"{producer.context.span_id:016x}")


async def test_rows_written_before_the_outbox_kept_trace_context_are_still_published(
    db: Database, published: FakeProducer, spans: InMemorySpanExporter
) -> None:
    await db.downgrade("chassis_0001")
    row = {k: v for k, v in outbox_row(order(1), source="wom/test").items() if not k.startswith("trace")}
    async with db.transaction() as session:
        await session.execute(insert(OutboxRecord.__table__).values(**row))  # the old columns only
    await db.migrate()
    await publish(db, published)
    assert len(published.records) == 1
    assert parts(published.headers(0)["traceparent"])[0]  # a trace of its own


async def test_without_an_exporter_the_trace_passes_through_at_no_cost(
    db: Database,
    outbound: TopicSink,
    published: FakeProducer,
    smtp: tuple[MailInbox, MailSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No OTLP endpoint: the API's no-op tracer records nothing, the inbound context travels on
    unchanged, and a record without one still gets a trace of its own."""
    monkeypatch.setattr(tracing, "_TRACER", NoOpTracer())
    inbox, settings = smtp
    handlers = EventHandlers()

    @handlers.on(OrderCompletedV1)
    async def thank(event: OrderCompletedV1, uow: UnitOfWork) -> None:
        uow.emit(event)
        async with MailPool(settings) as pool:
            await pool.send(mail("thanks"))

    await processor(db, outbound, handlers).process([traced(1), traced(2, traceparent=None)])
    await publish(db, published)
    assert published.headers(0)["traceparent"] == TRACEPARENT
    fresh = published.headers(1)["traceparent"]  # the batch's trace, fresh ids from the no-op API
    assert parts(fresh)[0] != TRACE_ID
    assert str(inbox.messages[0]["traceparent"]) == str(inbox.messages[1]["traceparent"]) == fresh

    async with MailPool(settings) as pool:
        await pool.send(mail("alone"))  # outside any trace: one of its own
    assert parts(str(inbox.messages[2]["traceparent"]))[0] not in (TRACE_ID, parts(fresh)[0])
