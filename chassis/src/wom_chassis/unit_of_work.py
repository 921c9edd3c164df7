"""The unit of work: one transaction, the rows it writes and the events it emits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from wom_contracts import Envelope, Event

from wom_chassis.database import Database, upsert_statement
from wom_chassis.outbox import add_to_outbox, outbox_row
from wom_chassis.tracing import TraceContext, current_trace_context

__all__ = ["EventRejected", "UnitOfWork", "unit_of_work"]


class EventRejected(Exception):
    """Raised by a handler for an event that is valid by its schema but can never be applied
    (for example a refund in another currency than its order): it is dead-lettered at once with
    `reason`, without retries, and the rest of the batch goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class UnitOfWork:
    """What a handler, a scheduled job or an API call gets: the open transaction, buffered
    inserts and a way to emit events. Everything commits together or not at all."""

    session: AsyncSession
    source: str
    preloaded: Any = None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    inserts: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    upserts: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    _flushed_outbox: int = 0
    _envelope: Envelope | None = None

    @property
    def envelope(self) -> Envelope:
        """The CloudEvent being handled: id, source, time (a handler's unit of work only)."""
        if self._envelope is None:
            raise RuntimeError("this unit of work does not handle an event")
        return self._envelope

    @envelope.setter
    def envelope(self, envelope: Envelope) -> None:
        self._envelope = envelope

    @property
    def event_id(self) -> str:
        """The id of the event being handled (a handler's unit of work only)."""
        return self.envelope.id

    @property
    def cause_id(self) -> str | None:
        """The id of the event being handled, or None for a job's or an API call's unit of work."""
        return None if self._envelope is None else self._envelope.id

    def insert(self, model: Any, **values: Any) -> dict[str, Any]:
        """Add a row to `model`'s table. Rows are written in one statement per table, in order,
        at the next `flush()`; handlers with a preload read them back through their view."""
        self.inserts.setdefault(model, []).append(values)
        return values

    def upsert(
        self, model: Any, values: dict[str, Any], *, key: Sequence[str], update: Sequence[str] | None = None
    ) -> None:
        """Insert a row or update it on a conflict on `key` (as `wom_chassis.upsert`), at the next
        `flush()`, after the buffered inserts: upserts run in the order they were asked for, those
        of one shape in a row as one statement (a round trip per event costs more than the SQL)."""
        columns = [c for c in values if c not in key] if update is None else list(update)
        dialect = self.session.get_bind().dialect.name
        self.upserts.append(
            (upsert_statement(dialect, model, tuple(values), tuple(key), tuple(columns)), values)
        )

    @property
    def trace_context(self) -> TraceContext:
        """The `traceparent` and `tracestate` of the work in hand (the event being handled, when
        there is one): store them with what is done later on its behalf (`continue_trace`)."""
        return current_trace_context()

    def emit(self, event: Event) -> str:
        """Write `event` to the outbox in this transaction; return its event id. The row keeps
        the current trace context: the published record continues the trace."""
        row = outbox_row(event, source=self.source, trace=current_trace_context())
        self.outbox.append(row)
        return str(row["event_id"])

    async def flush(self) -> None:
        """Write the buffered rows and outbox entries now (still inside the transaction)."""
        inserts, self.inserts = self.inserts, {}
        for model, rows in inserts.items():
            await self.session.execute(insert(model), rows)
        upserts, self.upserts = self.upserts, []
        for statement, rows in _runs_of_one_statement(upserts):
            await self.session.execute(statement, rows)
        await add_to_outbox(self.session, self.outbox[self._flushed_outbox :])
        self._flushed_outbox = len(self.outbox)


def _runs_of_one_statement(
    upserts: list[tuple[Any, dict[str, Any]]],
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Consecutive upserts of one statement, together; the order between them is kept."""
    runs: list[tuple[Any, list[dict[str, Any]]]] = []
    for statement, values in upserts:
        if runs and runs[-1][0] is statement:
            runs[-1][1].append(values)
        else:
            runs.append((statement, [values]))
    return runs


@asynccontextmanager
async def unit_of_work(
    db: Database,
    *,
    source: str,
    on_committed: Callable[[list[dict[str, Any]]], None] | None = None,
) -> AsyncIterator[UnitOfWork]:
    """A unit of work outside the consume path (scheduled jobs, API writes): commits at the end
    of the block, then hands what it emitted to `on_committed` (the relay)."""
    async with db.transaction() as session:
        work = UnitOfWork(session, source)
        yield work
        await work.flush()
    if work.outbox and on_committed is not None:
        on_committed(work.outbox)
