"""Outbound delivery: rows of a table that say "send this" are claimed, leased, sent, and their
outcome recorded, retried with backoff or given up after the last attempt. A service plugs in its
domain part (`Outbound`): which rows, what to check before sending, how to send one, what to record.

A round:

1. one transaction claims up to `round_size` due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
   another process's round takes other rows; on SQLite the service's one process writes in turns,
   `Database.transaction`, which is the same exclusion), lets the service admit them, and leases
   the admitted: one attempt more, the next attempt pushed out to the lease's end. The lease covers
   the whole round: every send is bounded (`send_timeout_seconds`) and the round's sends take
   `ceil(rows / concurrency)` turns at most; a crashed process's rows come back when it ends;
2. `concurrency` workers send with no transaction open, each in a span that continues the trace
   stored with its row; a send not started while enough of the lease is left is not started at
   all (it is released), so no send runs past the lease and no other process sends the same row;
3. outcomes are recorded as they come, within `RECORD_WITHIN_SECONDS`, one transaction for
   whatever came meanwhile. Recording is fenced: a row is recorded only while it still holds this
   round's lease (same attempt, same lease end, still pending); a row another round took after
   this lease ran out is left to that round.

Backoff is tenacity's `wait_exponential_jitter` (exponential, jitter, capped), asked for one
attempt's wait to store as the next attempt time: tenacity's retry loop sleeps in process, and a
delivery's wait must survive a restart, so only its wait primitive is used. A row given up (its
last attempt failed, or its send said retrying is pointless) is reported one way for every
service: the service's `report` (a dead letter, say), outside any transaction and before the
record, so a crash between them reports twice rather than never; then, with the record, the
`delivery_failed` log line, `wom_deliveries_total{outcome="failed"}` and what the service's
`failed` hook writes in the same transaction (its event).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy import select
from tenacity import RetryCallState, wait_exponential_jitter

from wom_chassis.columns import utcnow
from wom_chassis.errors import Reported, error_code
from wom_chassis.logs import get_logger
from wom_chassis.metrics import DELIVERIES
from wom_chassis.tracing import TraceContext, continue_trace, current_trace_context
from wom_chassis.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from wom_chassis.service import Service

__all__ = [
    "LEASE_MARGIN_SECONDS",
    "RECORD_WITHIN_SECONDS",
    "Backoff",
    "DeliveryEngine",
    "Leased",
    "Outbound",
    "Outcome",
    "SendRefused",
]

log = get_logger(__name__)
RECORD_WITHIN_SECONDS = 0.01
"""An outcome is recorded this long after it came at most, with all that came meanwhile."""
LEASE_MARGIN_SECONDS = 30.0
"""What a lease holds beyond its round's sends: the claim's and the records' transactions."""

Item = TypeVar("Item")


class SendRefused(Reported):
    """A send that can never succeed (a template that does not render, a target gone): the row is
    given up at once, whatever attempts are left."""


@dataclass(frozen=True)
class Backoff:
    """The wait after a failed attempt: `first_seconds`, doubling each attempt, plus up to
    `jitter_seconds` at random, at most `max_seconds`; `max_attempts` attempts in all."""

    first_seconds: float
    max_attempts: int
    max_seconds: float = 3600.0
    jitter_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.first_seconds <= 0 or self.max_seconds <= 0 or self.jitter_seconds < 0:
            raise ValueError(f"backoff times must be positive: {self}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(attempts, 1)
        wait = wait_exponential_jitter(
            multiplier=self.first_seconds, max=self.max_seconds, jitter=self.jitter_seconds
        )
        return timedelta(seconds=wait(state))


@dataclass(frozen=True)
class Leased(Generic[Item]):
    """A row admitted and leased in a round: what sending and recording it need once the claim's
    transaction is closed."""

    id: str
    attempt: int
    """the row's attempts once leased: 1 on the first"""
    until: datetime
    """the lease's end, stored as the row's next attempt time: the fence of the record step"""
    item: Item
    traceparent: str | None = None
    tracestate: str | None = None
    last: bool = False
    """the last attempt: a failure is given up"""


@dataclass(frozen=True)
class Outcome(Generic[Item]):
    """What became of one leased row's send: `error` None when sent; `detail` what the send
    returned, or the exception it raised; `started` False when the lease ran too short to start
    it; `reported` False when a final failure's report failed (it is retried instead)."""

    leased: Leased[Item]
    error: str | None = None
    refused: bool = False
    detail: Any = None
    trace: TraceContext = (None, None)
    started: bool = True
    reported: bool = True


class Outbound(Protocol[Item]):
    """A service's domain part of delivery. `model` is a mapped class with the columns `id`,
    `status`, `attempts`, `next_attempt_at`, `traceparent` and `tracestate`; rows whose status is
    `pending` and whose next attempt time has come are due."""

    model: Any
    pending: str

    def due(self, statement: Any) -> Any:
        """The claim's select with the service's own order or conditions (or as given)."""

    def take(self, rows: Sequence[Any]) -> Sequence[Any]:
        """Which of the claimed rows this round takes up (the others stay due, untouched)."""

    async def admit(
        self, uow: UnitOfWork[None], rows: Sequence[Any], now: datetime
    ) -> list[tuple[Any, Item]]:
        """The rows to send now, each with what sending needs; the others the service has dealt
        with itself (left waiting, suppressed) in `uow`."""

    async def send(self, leased: Leased[Item]) -> Any:
        """Send one; return what `sent` records, raise on failure (`SendRefused`: never retry)."""

    async def report(self, leased: Leased[Item], outcome: Outcome[Item]) -> None:
        """Report a final failure outside any transaction, before it is recorded (a dead letter);
        raise, and the row is tried again after its backoff."""

    async def sent(
        self, uow: UnitOfWork[None], rows: Sequence[tuple[Any, Outcome[Item]]], now: datetime
    ) -> None:
        """Record the sent rows (their status, their event)."""

    async def failed(
        self, uow: UnitOfWork[None], row: Any, outcome: Outcome[Item], retry_at: datetime | None
    ) -> None:
        """Record a failed attempt: retried at `retry_at` (the engine has set it), or given up."""


@dataclass
class DeliveryEngine(Generic[Item]):
    """Claims, leases, sends and records the due rows of one `Outbound`, round by round."""

    outbound: Outbound[Item]
    name: str
    """the delivery's name in logs, spans and metrics (`escalation`, `message`)"""
    backoff: Backoff
    round_size: int = 100
    concurrency: int = 4
    send_timeout_seconds: float = 30.0
    """the longest one send may take (it is cancelled then and counts as failed)"""
    clock: Any = field(default=utcnow)

    async def deliver_round(self, service: Service) -> int:
        """One round of the rows due now (see the module's docstring); how many it took up."""
        taken, leased = await self.claim(service)
        if leased:
            await self.send_and_record(service, leased)
        return taken

    async def claim(self, service: Service) -> tuple[int, list[Leased[Item]]]:
        """The claim's transaction: how many due rows it took up, and those it leased."""
        model, now = self.outbound.model, self.clock()
        statement = (
            select(model)
            .where(model.status == self.outbound.pending, model.next_attempt_at <= now)
            .order_by(model.next_attempt_at)
            .limit(self.round_size)
            .with_for_update(skip_locked=True)
        )
        async with service.work() as uow:
            rows = self.outbound.take((await uow.session.scalars(self.outbound.due(statement))).all())
            admitted = await self.outbound.admit(uow, rows, now) if rows else []
            until = now + timedelta(seconds=self.lease_seconds(len(admitted)))
            leased = []
            for row, item in admitted:
                row.attempts += 1
                row.next_attempt_at = until
                last = row.attempts >= self.backoff.max_attempts
                leased.append(
                    Leased(row.id, row.attempts, until, item, row.traceparent, row.tracestate, last)
                )
        return len(rows), leased

    def lease_seconds(self, rows: int) -> float:
        """How long a round of `rows` sends holds them: every turn of sends, and a margin."""
        turns = math.ceil(rows / self.concurrency) if rows else 0
        return turns * self.send_timeout_seconds + LEASE_MARGIN_SECONDS

    async def send_and_record(self, service: Service, leased: Sequence[Leased[Item]]) -> None:
        """Send the leased rows, `concurrency` at a time, and record their outcomes as they come."""
        if not leased:
            return
        # the lease in this process's clock: a send starts only if it ends before the lease does
        lease_ends = time.monotonic() + (leased[0].until - self.clock()).total_seconds()
        waiting, came, all_came = deque(leased), asyncio.Event(), asyncio.Event()
        outcomes: list[Outcome[Item]] = []

        async def worker() -> None:
            while waiting:
                one = waiting.popleft()
                if time.monotonic() + self.send_timeout_seconds > lease_ends - LEASE_MARGIN_SECONDS / 2:
                    outcomes.append(Outcome(one, started=False))
                else:
                    outcomes.append(await self.send(one))
                came.set()
                if len(outcomes) == len(leased):
                    all_came.set()

        async def recorder() -> None:
            recorded = 0
            while recorded < len(leased):
                await came.wait()
                with suppress(TimeoutError):  # a transaction costs more than the rows it writes
                    async with asyncio.timeout(RECORD_WITHIN_SECONDS):
                        await all_came.wait()
                came.clear()
                batch = outcomes[recorded:]  # whatever came meanwhile
                await self.record(service, batch)
                recorded += len(batch)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.concurrency, len(leased))):
                group.create_task(worker())
            group.create_task(recorder())

    async def send(self, leased: Leased[Item]) -> Outcome[Item]:
        """Send one leased row in its stored trace, bounded by `send_timeout_seconds`."""
        with continue_trace(f"deliver {self.name}", leased.traceparent, leased.tracestate):
            trace = current_trace_context()
            try:
                async with asyncio.timeout(self.send_timeout_seconds):
                    detail = await self.outbound.send(leased)
            except SendRefused as refused:
                failure = Outcome(leased, error_code(refused), True, refused, trace)
            except Exception as error:  # whatever went wrong is this attempt's error, not the round's
                failure = Outcome(leased, error_code(error), detail=error, trace=trace)
            else:
                return Outcome(leased, detail=detail, trace=trace)
            if failure.refused or leased.last:
                try:
                    await self.outbound.report(leased, failure)
                except Exception as error:
                    log.error(
                        "delivery_report_failed", delivery=self.name, id=leased.id, error=error_code(error)
                    )
                    failure = replace(failure, reported=False)
            return failure

    async def record(self, service: Service, outcomes: Sequence[Outcome[Item]]) -> None:
        """Record `outcomes` in one transaction, each only while its row still holds its lease."""
        model, now = self.outbound.model, self.clock()
        by_id = {outcome.leased.id: outcome for outcome in outcomes}
        sent: list[tuple[Any, Outcome[Item]]] = []
        async with service.work() as uow:
            rows = await uow.session.scalars(select(model).where(model.id.in_(by_id)).with_for_update())
            for row in rows:
                outcome = by_id[row.id]
                if not self._holds_lease(row, outcome.leased):
                    log.warning("delivery_lease_lost", delivery=self.name, id=row.id)
                    continue
                if not outcome.started:  # handed back as it was: this round made no attempt
                    row.attempts -= 1
                    row.next_attempt_at = now
                elif outcome.error is None:
                    sent.append((row, outcome))
                else:
                    await self._failed(uow, service.settings.service_name, row, outcome, now)
            if sent:
                await self.outbound.sent(uow, sent, now)
        if sent:
            DELIVERIES.labels(service.settings.service_name, self.name, "sent").inc(len(sent))

    def _holds_lease(self, row: Any, leased: Leased[Item]) -> bool:
        return bool(
            row.status == self.outbound.pending
            and row.attempts == leased.attempt
            and row.next_attempt_at == leased.until
        )

    async def _failed(
        self, uow: UnitOfWork[None], service_name: str, row: Any, outcome: Outcome[Item], now: datetime
    ) -> None:
        last = (outcome.refused or row.attempts >= self.backoff.max_attempts) and outcome.reported
        retry_at = None if last else now + self.backoff.after(row.attempts)
        if retry_at is not None:
            row.next_attempt_at = retry_at
        with continue_trace(f"record {self.name}", *outcome.trace):
            await self.outbound.failed(uow, row, outcome, retry_at)
        if retry_at is None:
            DELIVERIES.labels(service_name, self.name, "failed").inc()
            log.error(
                "delivery_failed", delivery=self.name, id=row.id, attempts=row.attempts, error=outcome.error
            )
        else:
            DELIVERIES.labels(service_name, self.name, "retried").inc()
            log.warning("delivery_retry_later", delivery=self.name, id=row.id, error=outcome.error)
