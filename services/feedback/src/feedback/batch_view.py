"""What one batch of feedback events reads, once, for every event type in it: erased customers,
known answers, tiers and open cases of the batch's customers. The handlers answer from it and
keep it current as they write, so an event sees what the events before it in the batch did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.driver import select_where_in
from wom_chassis.privacy import customer_hash
from wom_contracts import Event, ResponseSubmittedV1

from feedback.models import Case, CustomerTier, ErasedCustomer, Response

__all__ = ["BatchView", "KnownTier", "OpenCase", "load_batch_view"]


@dataclass(slots=True)
class KnownTier:
    """A customer's tier as rewards last announced it."""

    tier: str
    changed_at: datetime


@dataclass(slots=True)
class OpenCase:
    """An unresolved case (open or claimed) as the consume path holds it: the columns a case is
    opened with, of which its triage (priority, deadline, signals, key-client flag) can change."""

    case_id: str
    customer_id: str
    status: str
    priority: str
    queue: str
    key_client: bool
    tier: str | None
    signals: list[str]
    opened_at: datetime
    sla_due_at: datetime
    first_response_id: str


_TIER = ("customer_id", "tier", "changed_at")
_OPEN_CASE = tuple(field.name for field in fields(OpenCase))


@dataclass(slots=True)
class BatchView:
    """The batch's customers and answers as its handlers left them."""

    erased: set[str]
    known_responses: set[str]
    tiers: dict[str, KnownTier]
    """the tier of each customer of the batch who has one"""
    open_cases: dict[str, OpenCase]
    """the unresolved case of each customer of the batch who has one"""

    def tier_of(self, customer_id: str) -> str | None:
        """The customer's tier, None while rewards has announced none."""
        known = self.tiers.get(customer_id)
        return None if known is None else known.tier

    def forget(self, customer_id: str) -> None:
        """The customer was erased: later events about them are ignored."""
        self.erased.add(customer_id)
        self.tiers.pop(customer_id, None)
        self.open_cases.pop(customer_id, None)


async def load_batch_view(session: AsyncSession, events: Sequence[Event]) -> BatchView:
    """Everything the batch's answers, tier changes and erasures read, in one query per table
    (through the raw driver: SQLAlchemy's expanding `IN` cost more than the queries)."""
    view = BatchView(erased=set(), known_responses=set(), tiers={}, open_cases={})
    if not events:
        return view
    customers = list({event.customer_id for event in events})
    # the other customer of a referral too: an erased advocate or friend is not named in a timeline
    others = {getattr(event, "advocate_customer_id", None) for event in events} - {None, *customers}
    hashes = {customer_hash(customer_id): customer_id for customer_id in [*customers, *others] if customer_id}
    response_ids = [event.response_id for event in events if isinstance(event, ResponseSubmittedV1)]
    for (found,) in await select_where_in(
        session, ErasedCustomer, ("customer_hash",), "customer_hash", hashes
    ):
        view.erased.add(hashes[found])
    for (known,) in await select_where_in(session, Response, ("response_id",), "response_id", response_ids):
        view.known_responses.add(known)
    tiers = await select_where_in(session, CustomerTier, _TIER, "customer_id", customers)
    view.tiers = {customer_id: KnownTier(tier, changed_at) for customer_id, tier, changed_at in tiers}
    for row in await select_where_in(session, Case, _OPEN_CASE, "open_for", customers):
        case = OpenCase(*row)
        view.open_cases[case.customer_id] = case
    return view
