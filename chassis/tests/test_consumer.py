"""The consume path: validation, dead letters, inbox dedupe, batch vs per-record, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from wom_chassis import Database, EventHandlers, EventProcessor, UnitOfWork
from wom_chassis.deadletters import REPLAY_FOR_HEADER
from wom_chassis.metrics import EVENTS_CONSUMED
from wom_chassis.tables import InboxRecord, OutboxRecord
from wom_contracts import Money, OrderCompletedV1, ReferralQualifiedV1
from wom_contracts.commerce import MAX_ORDER_ITEMS
from wom_contracts.samples import sample
from wom_testkit import FakeRecord, record_of

WHEN = datetime(2026, 11, 1, 12, tzinfo=UTC)


def order(n: int, customer: str = "c-1") -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=f"o-{n}",
        customer_id=customer,
        total=Money(amount=Decimal("10.00"), currency="EUR"),
        completed_at=WHEN,
    )


class Echo:
    """A handler that re-emits what it gets, so its effects are outbox rows; can be made to fail."""

    def __init__(self) -> None:
        self.fail_orders: dict[str, int] = {}  # order id -> failures left (-1 forever)
        self.transient = False

    async def __call__(self, event: OrderCompletedV1, uow: UnitOfWork) -> None:
        left = self.fail_orders.get(event.order_id, 0)
        if left:
            self.fail_orders[event.order_id] = left - 1 if left > 0 else -1
            if self.transient:
                raise OperationalError("SELECT 1", {}, Exception("database is locked"))
            raise ValueError(f"cannot handle {event.order_id}")
        uow.emit(event)


def processor(db: Database, sink, echo: Echo, mode: str = "batch") -> EventProcessor:  # type: ignore[no-untyped-def]
    handlers = EventHandlers()
    handlers.on(OrderCompletedV1)(echo)
    return EventProcessor(
        db=db,
        records=sink,
        handlers=handlers,
        service="test",
        source="wom/test",
        dead_letter_topic="test.dlq",
        mode=mode,  # type: ignore[arg-type]
        max_attempts=3,
        retry_initial=0.01,
        retry_max=0.02,
    )


async def count(db: Database, column) -> int:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


async def emitted_orders(db: Database) -> list[str]:
    async with db.session() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.id))).all()
    return [OrderCompletedV1.model_validate_json(row.value).order_id for row in rows]


@pytest.mark.parametrize("mode", ["batch", "record"])
async def test_valid_events_are_applied_once_with_their_inbox_record(db, sink, mode) -> None:
    records = [record_of(order(n), offset=n) for n in range(5)]
    await processor(db, sink, Echo(), mode).process(records)
    assert await emitted_orders(db) == [f"o-{n}" for n in range(5)]
    assert await count(db, InboxRecord.event_id) == 5
    assert sink.records == []


async def test_a_redelivered_event_is_a_no_op(db, sink) -> None:
    first = record_of(order(1), event_id="evt-1")
    again = record_of(order(1), event_id="evt-1", offset=1)
    proc = processor(db, sink, Echo())
    await proc.process([first, again])  # duplicate inside one batch
    await proc.process([again])  # and in a later batch
    assert await emitted_orders(db) == ["o-1"]
    assert await count(db, InboxRecord.event_id) == 1


async def test_structured_mode_is_accepted(db, sink) -> None:
    await processor(db, sink, Echo()).process([record_of(order(7), structured=True)])
    assert await emitted_orders(db) == ["o-7"]


async def test_bad_records_go_to_the_dead_letter_topic_and_the_rest_is_processed(db, sink) -> None:
    good = record_of(order(1), offset=0)
    not_json = FakeRecord(
        topic="commerce.order.completed.v1",
        value=b"{oops",
        offset=1,
        headers=[*good.headers],
        key=b"c-1",
    )
    unknown = record_of(order(2), offset=2)
    unknown.headers = [
        (k, b"commerce.thing.happened.v1" if k == "ce_type" else v) for k, v in unknown.headers
    ]
    invalid = record_of(order(3), offset=3)
    invalid.value = invalid.value.replace(b'"10.00"', b'"-5"')
    no_envelope = FakeRecord(topic="commerce.order.completed.v1", value=b"{}", offset=4)
    last = record_of(order(5), offset=5)

    await processor(db, sink, Echo()).process([good, not_json, unknown, invalid, no_envelope, last])

    assert await emitted_orders(db) == ["o-1", "o-5"]
    reasons = [sink.headers(i)["dlq.reason"] for i in range(len(sink.records))]
    assert reasons == [
        "invalid_envelope",
        "unknown_event_type",
        "invalid_event",
        "invalid_envelope",
    ]
    first = sink.headers(0)
    assert first["dlq.source.topic"] == "commerce.order.completed.v1"
    assert first["dlq.source.offset"] == "1"
    assert first["dlq.service"] == "test"
    assert first["ce_type"] == "commerce.order.completed.v1"  # original headers kept
    assert sink.records[0].value == b"{oops"  # original bytes kept
    assert sink.records[0].key == b"c-1"
    assert "total" in sink.headers(2)["dlq.error"]
    # a made-up type is counted as `unknown`: a publisher cannot grow the metric's series
    labels = {sample.labels["event_type"] for sample in EVENTS_CONSUMED.collect()[0].samples}
    assert "commerce.thing.happened.v1" not in labels and "unknown" in labels


@pytest.mark.parametrize("mode", ["batch", "record"])
async def test_a_failing_event_is_dead_lettered_after_bounded_attempts(db, sink, mode) -> None:
    echo = Echo()
    echo.fail_orders["o-2"] = -1
    records = [record_of(order(n), offset=n) for n in range(1, 4)]
    await processor(db, sink, echo, mode).process(records)
    assert await emitted_orders(db) == ["o-1", "o-3"]
    assert len(sink.records) == 1
    headers = sink.headers(0)
    assert headers["dlq.reason"] == "handler_failed"
    assert headers["dlq.attempts"] == "3"
    # what failed and where, not what it said (an exception's text can quote the event's data)
    assert (
        headers["dlq.error"].startswith("ValueError at test_consumer.py:")
        and "o-2" not in headers["dlq.error"]
    )
    assert await count(db, InboxRecord.event_id) == 2  # a replay will be processed


async def test_a_transient_failure_is_retried_and_then_succeeds(db, sink) -> None:
    echo = Echo()
    echo.transient = True
    echo.fail_orders["o-1"] = 2
    await processor(db, sink, echo).process([record_of(order(1)), record_of(order(2), offset=1)])
    assert await emitted_orders(db) == ["o-1", "o-2"]
    assert sink.records == []


async def test_batch_and_per_record_modes_give_the_same_results(tmp_path, sink) -> None:
    from wom_testkit import fresh_database

    records = [
        record_of(order(n % 7, customer=f"c-{n % 3}"), offset=n, event_id=f"e-{n % 9}") for n in range(30)
    ]
    results = []
    for mode in ("batch", "record"):
        (tmp_path / mode).mkdir()
        db = await fresh_database("sqlite", tmp_path / mode, [])
        echo = Echo()
        echo.fail_orders["o-4"] = -1
        await processor(db, sink, echo, mode).process(records)
        results.append((await emitted_orders(db), await count(db, InboxRecord.event_id)))
        await db.dispose()
    assert results[0] == results[1]


def _oversize(n: int, field: str, value: object) -> FakeRecord:
    """An order whose data has one field past its bound, as a publisher could send it."""
    record = record_of(order(n), offset=n)
    data = json.loads(record.value)
    data[field] = value
    record.value = json.dumps(data).encode()
    return record


@pytest.mark.parametrize("mode", ["batch", "record"])
async def test_oversize_records_are_dead_lettered_whole_and_the_partition_moves_on(db, sink, mode) -> None:
    """Past the bounds the contracts declare: the list of lines, an id, a code, a free text."""
    line = {"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "EUR"}}
    oversize = [
        _oversize(1, "items", [line] * (MAX_ORDER_ITEMS + 1)),
        _oversize(2, "order_id", "o" * 65),
        _oversize(3, "referral_code", "R" * 100_000),
        _oversize(4, "channel", "w" * 65),
    ]
    records = [record_of(order(0), offset=0), *oversize, record_of(order(5), offset=5)]
    await processor(db, sink, Echo(), mode).process(records)
    assert await emitted_orders(db) == ["o-0", "o-5"]
    assert [letter.value for letter in sink.records] == [record.value for record in oversize]
    assert {sink.headers(i)["dlq.reason"] for i in range(len(oversize))} == {"invalid_event"}
    named = [sink.headers(i)["dlq.error"] for i in range(len(oversize))]
    for field, error in zip(["items", "order_id", "referral_code", "channel"], named, strict=True):
        assert field in error and len(error) < 2_000, error  # the field, not the value, is named


def _from(source: str, record: FakeRecord) -> FakeRecord:
    record.headers = [(k, source.encode() if k == "ce_source" else v) for k, v in record.headers]
    return record


@pytest.mark.parametrize("mode", ["batch", "record"])
async def test_an_event_from_a_producer_the_topic_does_not_have_is_dead_lettered(db, sink, mode) -> None:
    """Upstream events from the named upstream publishers only; a wom service's events from that
    service only: a stranger who can write to the broker can neither grant points nor erase."""
    handlers = EventHandlers()
    echo = Echo()
    handlers.on(OrderCompletedV1)(echo)
    qualified: list[str] = []

    @handlers.on(ReferralQualifiedV1)
    async def on_qualified(event: ReferralQualifiedV1, uow: UnitOfWork) -> None:
        qualified.append(event.referral_id)

    proc = EventProcessor(
        db=db, records=sink, handlers=handlers, service="test", source="wom/test",
        dead_letter_topic="test.dlq", mode=mode, upstream_sources=frozenset({"shop/checkout"}),
    )  # fmt: skip
    referral = sample("referrals.referral.qualified.v1")
    records = [
        _from("shop/checkout", record_of(order(1), offset=0)),
        _from("intruder", record_of(order(2), offset=1)),
        _from("wom/referrals", record_of(referral, offset=2)),
        _from("wom/rewards", record_of(referral, event_id="evt-forged", offset=3)),  # not its owner
        _from("shop/checkout", record_of(referral, event_id="evt-upstream", offset=4)),
    ]
    await proc.process(records)
    assert await emitted_orders(db) == ["o-1"] and qualified == [referral.referral_id]
    assert [letter.value for letter in sink.records] == [records[n].value for n in (1, 3, 4)]
    assert {sink.headers(i)["dlq.reason"] for i in range(3)} == {"unexpected_source"}
    assert sink.headers(0)["dlq.error"] == (
        "commerce.order.completed.v1 is published by shop/checkout, not this ce_source"
    )
    assert "intruder" not in sink.headers(0)["dlq.error"]


async def test_without_named_upstream_publishers_only_wom_events_are_checked(db, sink) -> None:
    """WOM_ENV=dev without UPSTREAM_SOURCES: the shop's events from anyone, wom's still from wom."""
    await processor(db, sink, Echo()).process([_from("anyone", record_of(order(1)))])
    assert await emitted_orders(db) == ["o-1"] and sink.records == []


async def test_null_header_values_are_dead_lettered_not_fatal(db, sink) -> None:
    odd = record_of(order(1), offset=0)
    odd.headers = [*odd.headers, ("x-trace", None)]
    broken = record_of(order(2), offset=1)
    broken.headers = [(k, None if k == "ce_type" else v) for k, v in broken.headers]
    await processor(db, sink, Echo()).process([odd, broken, record_of(order(3), offset=2)])
    assert await emitted_orders(db) == ["o-1", "o-3"]
    assert [sink.headers(i)["dlq.reason"] for i in range(len(sink.records))] == ["invalid_envelope"]


async def test_a_dead_letter_carries_the_record_as_it_was_consumed(db, sink) -> None:
    """Key, value (a tombstone's None too) and every header in order, repeats, binary values and
    nulls included; the `dlq.*` headers come after them."""
    headers = [("ce_type", b"commerce.order.completed.v1"), ("hop", b"\xff\x00"), ("hop", b"b"), ("x", None)]
    tombstone = FakeRecord(topic="commerce.order.completed.v1", value=None, headers=headers, key=b"\x00k")
    await processor(db, sink, Echo()).process([tombstone])
    [letter] = sink.records
    assert (letter.topic, letter.key, letter.value) == ("test.dlq", b"\x00k", None)
    assert list(letter.headers[: len(headers)]) == headers
    assert all(name.startswith("dlq.") for name, _ in letter.headers[len(headers) :])
    assert sink.headers(0)["dlq.reason"] == "invalid_envelope"


@pytest.mark.parametrize("mode", ["batch", "record"])
async def test_a_rejected_event_is_dead_lettered_at_once_with_its_reason(db, sink, mode) -> None:
    from wom_chassis import EventRejected

    calls: list[str] = []

    async def picky(event: OrderCompletedV1, uow: UnitOfWork) -> None:
        calls.append(event.order_id)
        if event.order_id == "o-2":
            raise EventRejected("currency_mismatch", "refund in SEK for an order in EUR")
        uow.emit(event)

    handlers = EventHandlers()
    handlers.on(OrderCompletedV1)(picky)
    proc = EventProcessor(
        db=db, records=sink, handlers=handlers, service="test", source="wom/test",
        dead_letter_topic="test.dlq", mode=mode, max_attempts=3, retry_initial=0.01, retry_max=0.02,
    )  # fmt: skip
    await proc.process([record_of(order(n), offset=n) for n in range(1, 4)])
    assert await emitted_orders(db) == ["o-1", "o-3"]
    assert calls.count("o-2") == (2 if mode == "batch" else 1)  # the batch try, then once alone
    [letter] = [sink.headers(i) for i in range(len(sink.records))]
    assert letter["dlq.reason"] == "currency_mismatch"
    assert letter["dlq.attempts"] == "1"
    assert "refund in SEK" in letter["dlq.error"]


async def test_the_view_is_read_once_per_batch_and_a_database_reader_sees_what_came_before(db, sink) -> None:
    """One view per transaction, with every event of the batch whatever its type; a handler that
    reads the database (`reads_database=True`) finds what the events before it buffered."""
    from wom_contracts import CustomerErasedV1

    loads: list[list[str]] = []
    seen: list[int] = []

    async def load(session, events):  # type: ignore[no-untyped-def]
        loads.append([event.event_type for event in events])
        return {"outbox_at_start": int(await session.scalar(select(func.count(OutboxRecord.id))) or 0)}

    async def on_order(event: OrderCompletedV1, uow: UnitOfWork[dict[str, int]]) -> None:
        seen.append(uow.view["outbox_at_start"])
        uow.emit(event)

    async def on_erased(event: CustomerErasedV1, uow: UnitOfWork[dict[str, int]]) -> None:
        seen.append(int(await uow.session.scalar(select(func.count(OutboxRecord.id))) or 0))
        uow.emit(event)

    handlers: EventHandlers[dict[str, int]] = EventHandlers(load_view=load)
    handlers.on(OrderCompletedV1)(on_order)
    handlers.on(CustomerErasedV1, reads_database=True)(on_erased)
    proc = EventProcessor(
        db=db, records=sink, handlers=handlers, service="test", source="wom/test",
        dead_letter_topic="test.dlq",
    )  # fmt: skip
    erased = CustomerErasedV1(customer_id="c-1", requested_at=WHEN)
    records = [
        record_of(order(1), offset=0),
        record_of(order(2), offset=1),
        record_of(erased, offset=2),
        record_of(CustomerErasedV1(customer_id="c-2", requested_at=WHEN), offset=3),
        record_of(order(3), offset=4),
    ]
    await proc.process(records)
    order_type, erased_type = OrderCompletedV1.event_type, CustomerErasedV1.event_type
    assert loads == [[order_type, order_type, erased_type, erased_type, order_type]]  # once, all types
    # the view was read before anything was written; the erasures see 2, then 3 rows
    assert seen == [0, 0, 2, 3, 0]
    async with db.session() as session:
        assert await session.scalar(select(func.count(OutboxRecord.id))) == 5


def replayed(record: FakeRecord, service: str, offset: int) -> FakeRecord:
    """`record` as `womctl dlq replay` publishes it again: same bytes and ce_id, for one service."""
    return FakeRecord(
        topic=record.topic, value=record.value, key=record.key, offset=offset,
        headers=[*record.headers, (REPLAY_FOR_HEADER, service.encode())],
    )  # fmt: skip


async def test_a_replayed_dead_letter_is_processed_by_its_service_only(db, sink) -> None:
    echo = Echo()
    echo.fail_orders["o-1"] = 3  # fails every attempt of the first delivery, then works
    first = record_of(order(1), event_id="evt-r", offset=0)
    proc = processor(db, sink, echo, "record")
    await proc.process([first])
    assert sink.headers(0)["dlq.reason"] == "handler_failed" and await emitted_orders(db) == []

    await proc.process([replayed(first, "other-service", offset=1)])  # another service's replay
    assert await emitted_orders(db) == [] and len(sink.records) == 1  # skipped, not dead-lettered
    await proc.process([replayed(first, "test", offset=2)])  # this service's replay
    assert await emitted_orders(db) == ["o-1"]
    await proc.process([replayed(first, "test", offset=3)])  # replayed twice: the same ce_id
    assert await emitted_orders(db) == ["o-1"]
    assert await count(db, InboxRecord.event_id) == 1


async def test_a_replay_of_an_event_already_processed_is_a_duplicate(db, sink) -> None:
    first = record_of(order(2), event_id="evt-d", offset=0)
    proc = processor(db, sink, Echo())
    await proc.process([first, replayed(first, "test", offset=1)])
    assert await emitted_orders(db) == ["o-2"]
    assert sink.records == []


async def test_a_replayed_dead_letter_that_fails_again_loses_its_replay_header(db, sink) -> None:
    """A dead letter's original headers never carry `dlq.*`, so a later replay names its service anew."""
    bad = FakeRecord(topic="commerce.order.completed.v1", value=b"{oops", offset=0, headers=[("ce_id", b"x")])
    await processor(db, sink, Echo()).process([replayed(bad, "test", offset=1)])
    assert "dlq.replay.for" not in sink.headers(0) and sink.headers(0)["dlq.reason"] == "invalid_envelope"
