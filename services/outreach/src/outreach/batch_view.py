"""What the consume path reads once per batch and keeps current as it writes: the contacts of
the customers its events are about, which of them are erased, and the messages it queued."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork
from wom_chassis.driver import select_where_in
from wom_chassis.privacy import erased_among
from wom_contracts import Event

from outreach.models import Contact, ErasedCustomer

__all__ = ["BatchView", "load_batch_view"]

# writes go to the tables, not the classes: Core executemany, without the ORM's bulk bookkeeping
CONTACTS = Contact.__table__
COLUMNS = tuple(column.key for column in CONTACTS.columns)


@dataclass
class BatchView:
    """The customers of one batch's events. A contact here is a copy outside the session: a
    handler changes it, then `save`s it, which buffers the write of what changed."""

    contacts: dict[str, Contact | None] = field(default_factory=dict)  # None: no contact yet
    erased: set[str] = field(default_factory=set)
    # each contact's row as the database has it once the buffered writes are flushed
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (kind, cause, channel) of the messages queued in this transaction -> their customer
    queued: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def save(self, uow: UnitOfWork[BatchView], contact: Contact) -> None:
        """Buffer the contact's insert, or the update of the columns that changed (only those:
        an unsubscribe committed meanwhile by the API is not overwritten, as with the ORM)."""
        row = {name: getattr(contact, name) for name in COLUMNS}
        before = self.written.get(contact.customer_id)
        if before is None:
            uow.insert(CONTACTS, **row)
        else:
            changed = [name for name in COLUMNS if row[name] != before[name]]
            if not changed:
                return
            uow.upsert(CONTACTS, row, key=["customer_id"], update=changed)
        self.written[contact.customer_id] = row

    def forget(self, customer_id: str) -> None:
        """The customer was erased: no contact, no messages, later events ignored."""
        self.contacts[customer_id] = None
        self.written.pop(customer_id, None)
        self.erased.add(customer_id)
        self.queued = {key: owner for key, owner in self.queued.items() if owner != customer_id}


async def load_batch_view(session: AsyncSession, events: Sequence[Event]) -> BatchView:
    """The contacts and erasures of every customer the batch's events are about, in two queries."""
    view = BatchView()
    customers = list({event.customer_id for event in events})
    if not customers:
        return view
    view.erased = await erased_among(session, ErasedCustomer, customers)
    rows = await select_where_in(session, CONTACTS, COLUMNS, "customer_id", customers)
    found = {row["customer_id"]: row for row in (dict(zip(COLUMNS, values, strict=True)) for values in rows)}
    for customer_id in customers:
        row = found.get(customer_id)
        view.contacts[customer_id] = None if row is None else Contact(**row)
        if row is not None:
            view.written[customer_id] = row
    return view
