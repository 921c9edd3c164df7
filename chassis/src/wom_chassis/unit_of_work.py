"""The unit of work: one transaction, the rows it writes and the events it emits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from wom_contracts import Envelope, Event, EventIds

from wom_chassis.columns import utcnow
from wom_chassis.database import Database
from wom_chassis.driver import upsert_rows, write_rows
from wom_chassis.outbox import add_to_outbox, outbox_row
from wom_chassis.tracing import TraceContext, current_trace_context

__all__ = ["EventRejected", "UnitOfWork", "View", "unit_of_work"]

View = TypeVar("View")
"""What a service's handlers read, loaded once per batch (`EventHandlers(load_view=…)`)."""


class EventRejected(Exception):
    """Raised by a handler for an event that is valid by its schema but can never be applied
    (for example a refund in another currency than its order): it is dead-lettered at once with
    `reason`, without retries, and the rest of the batch goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _table(model: Any) -> Table:
    table = getattr(model, "__table__", model)
    assert isinstance(table, Table), f"{model!r} is neither a mapped class nor a table"
    return table


class UnitOfWork(Generic[View]):
    """What a handler, a scheduled job or an API call gets: the open transaction, buffered
    rows, a way to emit events, and (for handlers) the batch's view. Everything commits
    together or not at all.

    The clock and the event ids are read once per unit of work: `now` is the time of the
    batch, of its rows and of the events it emits."""

    def __init__(self, session: AsyncSession, source: str, view: View) -> None:
        self.session = session
        self.source = source
        self.view = view
        self.now: datetime = utcnow()
        self.ids = EventIds()
        self.outbox: list[dict[str, Any]] = []
        self._inserts: dict[Table, list[dict[str, Any]]] = {}
        self._upserts: list[tuple[Table, tuple[str, ...], tuple[str, ...], dict[str, Any]]] = []
        self._flushed_outbox = 0
        self._envelope: Envelope | None = None
        self._trace: TraceContext | None = None
        self._own_trace: TraceContext | None = None

    def begin_event(self, envelope: Envelope, trace: TraceContext | None) -> None:
        """Make the unit of work handle `envelope` next; `trace` is its record's trace context
        (None: the record carries none, so what is emitted continues the batch's trace)."""
        self._envelope = envelope
        self._trace = trace

    @property
    def envelope(self) -> Envelope:
        """The CloudEvent being handled: id, source, time (a handler's unit of work only)."""
        if self._envelope is None:
            raise RuntimeError("this unit of work does not handle an event")
        return self._envelope

    @property
    def event_id(self) -> str:
        """The id of the event being handled (a handler's unit of work only)."""
        return self.envelope.id

    @property
    def cause_id(self) -> str | None:
        """The id of the event being handled, or None for a job's or an API call's unit of work."""
        return None if self._envelope is None else self._envelope.id

    @property
    def trace_context(self) -> TraceContext:
        """The `traceparent` and `tracestate` of the work in hand (the event being handled, when
        it carried one): store them with what is done later on its behalf (`continue_trace`)."""
        if self._trace is not None:
            return self._trace
        if self._own_trace is None:  # the batch's span: the same for the whole unit of work
            self._own_trace = current_trace_context()
        return self._own_trace

    def insert(self, model: Any, **values: Any) -> dict[str, Any]:
        """Add a row to `model`'s table. Rows are written in one statement per table and set of
        columns, in order, at the next `flush()`; handlers read them back through their view."""
        self._inserts.setdefault(_table(model), []).append(values)
        return values

    def upsert(
        self, model: Any, values: dict[str, Any], *, key: Sequence[str], update: Sequence[str] | None = None
    ) -> None:
        """Insert a row or update the `update` columns (all but `key` by default; none: keep the
        existing row) on a conflict on `key`, at the next `flush()`, after the buffered inserts:
        a table's upserts run in the order they were asked for, those of one shape in a row
        together; tables in the order they first appear."""
        columns = tuple(c for c in values if c not in key) if update is None else tuple(update)
        self._upserts.append((_table(model), tuple(key), columns, values))

    def emit(self, event: Event) -> str:
        """Write `event` to the outbox in this transaction; return its event id. The row keeps
        the trace context of its cause: the published record continues that trace."""
        row = outbox_row(
            event, source=self.source, trace=self.trace_context, event_id=self.ids.next(), now=self.now
        )
        self.outbox.append(row)
        return str(row["event_id"])

    async def flush(self) -> None:
        """Write the buffered rows and outbox entries now (still inside the transaction)."""
        session = self.session
        if session.new or session.dirty or session.deleted:
            await session.flush()  # ORM changes first, as they were made before these rows
        inserts, self._inserts = self._inserts, {}
        for table, rows in inserts.items():
            await write_rows(session, table, rows)
        upserts, self._upserts = self._upserts, []
        for (table, key, update, _columns), rows in _runs_of_one_shape(upserts):
            await upsert_rows(session, table, rows, key=key, update=update)
        await add_to_outbox(session, self.outbox[self._flushed_outbox :])
        self._flushed_outbox = len(self.outbox)


_Shape = tuple[Table, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _runs_of_one_shape(
    upserts: list[tuple[Table, tuple[str, ...], tuple[str, ...], dict[str, Any]]],
) -> list[tuple[_Shape, list[dict[str, Any]]]]:
    """The upserts as statements: table by table in the order each first appears (as inserts
    are written), and within a table its consecutive upserts of one key, update and set of
    columns together, so that the order between the upserts of one table is kept. Handlers
    that alternate two tables (a contact, then a message) get one statement per table."""
    runs: dict[Table, list[tuple[_Shape, list[dict[str, Any]]]]] = {}
    for table, key, update, values in upserts:
        shape = (table, key, update, tuple(values))
        table_runs = runs.setdefault(table, [])
        if table_runs and table_runs[-1][0] == shape:
            table_runs[-1][1].append(values)
        else:
            table_runs.append((shape, [values]))
    return [run for table_runs in runs.values() for run in table_runs]


@asynccontextmanager
async def unit_of_work(
    db: Database,
    *,
    source: str,
    on_committed: Callable[[list[dict[str, Any]]], None] | None = None,
) -> AsyncIterator[UnitOfWork[None]]:
    """A unit of work outside the consume path (scheduled jobs, API writes): commits at the end
    of the block, then hands what it emitted to `on_committed` (the relay)."""
    async with db.transaction() as session:
        work: UnitOfWork[None] = UnitOfWork(session, source, None)
        yield work
        await work.flush()
    if work.outbox and on_committed is not None:
        on_committed(work.outbox)
