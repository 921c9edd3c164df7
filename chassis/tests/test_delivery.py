"""The delivery engine on SQLite and PostgreSQL: due rows claimed and leased, a lease that keeps
other rounds off, recording fenced by the lease, backoff and the final failure, the stored trace
continued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Integer, String, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import Database, UnitOfWork, unit_of_work
from wom_chassis.columns import UtcDateTime
from wom_chassis.delivery import LEASE_MARGIN_SECONDS, Backoff, DeliveryEngine, Leased, Outcome, SendRefused
from wom_chassis.metrics import DELIVERIES
from wom_chassis.service import Service
from wom_chassis.tracing import current_trace_context
from wom_testkit import span_recorder

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "test_delivery_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    traceparent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tracestate: Mapped[str | None] = mapped_column(String(512), nullable=True)


@dataclass
class Jobs:
    """An outbound of test rows: sends fail while `failing`, every send and record is kept."""

    model: Any = Job
    pending: str = "pending"
    failing: Exception | None = None
    sends: list[str] = field(default_factory=list)
    traces: list[tuple[str | None, str | None]] = field(default_factory=list)
    recorded_sent: list[str] = field(default_factory=list)
    given_up: list[tuple[str, str | None]] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    report_failing: bool = False

    def due(self, statement: Any) -> Any:
        return statement.order_by(Job.id)

    def take(self, rows: Sequence[Any]) -> Sequence[Any]:
        return rows

    async def admit(self, uow: UnitOfWork[None], rows: Sequence[Any], now: datetime) -> list[tuple[Any, str]]:
        return [(row, row.id) for row in rows]

    async def send(self, leased: Leased[str]) -> str:
        self.sends.append(leased.item)
        self.traces.append(current_trace_context())
        if self.failing is not None:
            raise self.failing
        return f"sent {leased.item}"

    async def report(self, leased: Leased[str], outcome: Outcome[str]) -> None:
        if self.report_failing:
            raise ConnectionError("the broker is down")
        self.reported.append(leased.id)

    async def sent(
        self, uow: UnitOfWork[None], rows: Sequence[tuple[Any, Outcome[str]]], now: datetime
    ) -> None:
        for row, outcome in rows:
            row.status = "sent"
            self.recorded_sent.append(outcome.detail)

    async def failed(
        self, uow: UnitOfWork[None], row: Any, outcome: Outcome[str], retry_at: datetime | None
    ) -> None:
        if retry_at is None:
            row.status = "failed"
            self.given_up.append((row.id, outcome.error))


@dataclass
class Settings:
    service_name: str = "test"


@dataclass
class FakeService:
    """What the engine uses of a service: its units of work and its name."""

    db: Database
    settings: Settings = field(default_factory=Settings)

    def work(self) -> Any:
        return unit_of_work(self.db, source="wom/test")


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def service(db: Database) -> AsyncIterator[Service]:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield cast(Service, FakeService(db))


def engine(outbound: Jobs, clock: Clock, **options: Any) -> DeliveryEngine[str]:
    return DeliveryEngine(
        outbound,
        name="job",
        backoff=Backoff(first_seconds=10, max_attempts=3, max_seconds=15),
        send_timeout_seconds=5,
        clock=clock,
        **options,
    )


async def add_jobs(service: Service, *ids: str, traceparent: str | None = None) -> None:
    async with service.db.transaction() as session:
        await session.execute(
            insert(Job), [{"id": i, "next_attempt_at": T0, "traceparent": traceparent} for i in ids]
        )


async def jobs(service: Service) -> dict[str, tuple[str, int, datetime]]:
    async with service.db.session() as session:
        rows = await session.execute(select(Job.id, Job.status, Job.attempts, Job.next_attempt_at))
        return {i: (status, attempts, at) for i, status, attempts, at in rows}


async def test_a_round_sends_and_records_every_due_row_and_leaves_the_rest(service: Service) -> None:
    outbound, clock = Jobs(), Clock()
    await add_jobs(service, "a", "b", "c")
    async with service.db.transaction() as session:  # not due yet
        await session.execute(update(Job).where(Job.id == "c").values(next_attempt_at=T0 + timedelta(1)))
    assert await engine(outbound, clock).deliver_round(service) == 2
    assert sorted(outbound.recorded_sent) == ["sent a", "sent b"]
    now = await jobs(service)
    assert now["a"][:2] == now["b"][:2] == ("sent", 1) and now["c"][:2] == ("pending", 0)
    assert await engine(outbound, clock).deliver_round(service) == 0


async def test_a_lease_keeps_other_rounds_off_until_it_ends(service: Service) -> None:
    outbound, clock = Jobs(), Clock()
    await add_jobs(service, "a", "b", "c", "d", "e")
    first = engine(outbound, clock, concurrency=2)
    taken, leased = await first.claim(service)
    assert taken == 5
    # three turns of two sends, each up to 5 s, and the margin: the whole round is covered
    assert leased[0].until == T0 + timedelta(seconds=3 * 5 + LEASE_MARGIN_SECONDS)
    clock.now = leased[0].until - timedelta(microseconds=1)
    assert await first.claim(service) == (0, [])
    clock.now = leased[0].until  # a crashed round's rows come back
    taken, again = await first.claim(service)
    assert taken == 5 and {one.attempt for one in again} == {2}


async def test_an_outcome_recorded_after_the_lease_was_taken_over_is_not_recorded(
    service: Service,
) -> None:
    """Round A outlasts its lease; round B takes the row over, sends and records it; A's late
    record must not count the row sent a second time (nor overwrite B's)."""
    outbound, clock = Jobs(), Clock()
    await add_jobs(service, "a")
    rounds = engine(outbound, clock)
    _, (lease_a,) = await rounds.claim(service)
    outcome_a = await rounds.send(lease_a)
    clock.now = lease_a.until + timedelta(seconds=1)
    _, (lease_b,) = await rounds.claim(service)
    await rounds.record(service, [await rounds.send(lease_b)])
    await rounds.record(service, [outcome_a])
    assert outbound.recorded_sent == ["sent a"]
    assert (await jobs(service))["a"][:2] == ("sent", 2)


async def test_a_send_the_lease_cannot_cover_is_not_started_and_handed_back(service: Service) -> None:
    outbound, clock = Jobs(), Clock()
    await add_jobs(service, "a")
    rounds = engine(outbound, clock)
    _, (leased,) = await rounds.claim(service)
    clock.now = leased.until - timedelta(seconds=LEASE_MARGIN_SECONDS / 2)  # the round ran late
    await rounds.send_and_record(service, [leased])
    assert outbound.sends == []
    assert (await jobs(service))["a"] == ("pending", 0, clock.now)


async def test_failures_back_off_then_the_last_is_given_up_and_reported(service: Service) -> None:
    outbound, clock = Jobs(failing=ConnectionError("refused")), Clock()
    await add_jobs(service, "a")
    rounds = engine(outbound, clock)
    failed_before = DELIVERIES.labels("test", "job", "failed")._value.get()
    for attempt, wait in ((1, 10), (2, 15)):  # 10 s, then 20 s capped at 15 s
        assert await rounds.deliver_round(service) == 1
        assert (await jobs(service))["a"] == ("pending", attempt, clock.now + timedelta(seconds=wait))
        clock.now += timedelta(seconds=wait)
    assert await rounds.deliver_round(service) == 1
    assert (await jobs(service))["a"][:2] == ("failed", 3)
    [(given_up, error)] = outbound.given_up
    assert given_up == "a" and outbound.reported == ["a"]
    assert error.startswith("ConnectionError at test_delivery.py:") and "refused" not in error  # no text
    assert DELIVERIES.labels("test", "job", "failed")._value.get() == failed_before + 1


async def test_a_final_failure_whose_report_fails_is_tried_again(service: Service) -> None:
    outbound, clock = Jobs(failing=SendRefused("gone"), report_failing=True), Clock()
    await add_jobs(service, "a")
    rounds = engine(outbound, clock)
    await rounds.deliver_round(service)
    assert (await jobs(service))["a"] == ("pending", 1, T0 + timedelta(seconds=10))
    outbound.report_failing, clock.now = False, T0 + timedelta(seconds=10)
    await rounds.deliver_round(service)
    assert (await jobs(service))["a"][:2] == ("failed", 2) and outbound.reported == ["a"]


async def test_a_refused_send_is_given_up_at_once(service: Service) -> None:
    outbound, clock = Jobs(failing=SendRefused("the template does not render")), Clock()
    await add_jobs(service, "a")
    await engine(outbound, clock).deliver_round(service)
    assert (await jobs(service))["a"][:2] == ("failed", 1)
    assert outbound.given_up == [("a", "SendRefused: the template does not render")]


async def test_a_send_continues_the_trace_stored_with_its_row(service: Service) -> None:
    spans = span_recorder()
    outbound, clock = Jobs(), Clock()
    await add_jobs(service, "a", traceparent=TRACEPARENT)
    await engine(outbound, clock).deliver_round(service)
    ((traceparent, _),) = outbound.traces
    assert traceparent is not None and traceparent.split("-")[1] == TRACE_ID
    (span,) = [s for s in spans.get_finished_spans() if s.name == "deliver job"]
    assert span.context is not None and format(span.context.trace_id, "032x") == TRACE_ID


async def test_a_row_locked_by_another_round_is_skipped(service: Service) -> None:
    if service.db.is_sqlite:
        pytest.skip("SQLite's one process writes in turns: no other round runs meanwhile")
    outbound, clock = Jobs(), Clock()
    await add_jobs(service, "a", "b")
    async with service.db.transaction() as session:  # another process's claim, still open
        await session.execute(select(Job).where(Job.id == "a").with_for_update())
        taken, leased = await engine(outbound, clock).claim(service)
    assert taken == 1 and [one.id for one in leased] == ["b"]


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(first_seconds=1, max_attempts=5, max_seconds=6, jitter_seconds=0.5)
    for attempts, low in ((1, 1), (2, 2), (3, 4)):
        assert low <= backoff.after(attempts).total_seconds() <= low + 0.5
    assert backoff.after(10).total_seconds() == 6
    with pytest.raises(ValueError, match="max_attempts"):
        Backoff(first_seconds=1, max_attempts=0)
