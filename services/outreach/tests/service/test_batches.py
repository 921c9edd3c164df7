"""One batch ends in the state its events reach one transaction at a time (`CONSUME_MODE=record`):
the batch's view must be kept current by every handler, across event types."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from outreach.models import Contact, Message
from sqlalchemy import select
from wom_chassis import Service
from wom_contracts import CaseOpenedV1, CaseResolvedV1, CustomerErasedV1, OrderCompletedV1, RewardRevokedV1
from wom_testkit import record_of

from ..conftest import OutreachFactory
from .test_loop import NOW, Balance, Money, code, granted, key_client, promoter, registered

IGNORED = {"updated_at", "id", "created_at", "next_attempt_at", "traceparent", "tracestate"}


def awkward() -> list[Any]:
    """Messages before their contact, two sign-ups, an erasure in the middle, a case opened and
    resolved, a key client, a refund's clawback, all mixed in one batch."""
    order = OrderCompletedV1(
        customer_id="dana", order_id="o-9", total=Money(amount="30", currency="EUR"), completed_at=NOW
    )
    revoked = RewardRevokedV1(
        customer_id="dana",
        reward_id="r-d",
        kind="earn",
        reason="order_refunded",
        points=3,
        balance=Balance(points_available=0, points_pending=0),
        occurred_at=NOW,
    )
    opened = CaseOpenedV1.model_validate(
        {
            "customer_id": "ben",
            "case_id": "case-1",
            "response_id": "resp-9",
            "priority": "P2",
            "queue": "support",
            "sla_due_at": NOW + timedelta(hours=4),
            "kind": "nps",
            "score": 2,
            "occurred_at": NOW,
        }
    )
    resolved = CaseResolvedV1.model_validate(
        {
            "customer_id": "ben",
            "case_id": "case-1",
            "resolution": "refunded",
            "compensation": {"amount": "5", "currency": "EUR"},
            "occurred_at": NOW,
        }
    )
    return [
        granted("anna", points=5, reward_id="r-a"),
        registered("anna"),
        registered("ben"),
        promoter("ben"),
        opened,
        granted("ben", points=7, reward_id="r-b"),
        registered("ben"),
        code("ben"),
        resolved,
        registered("cara"),
        granted("cara", points=9, reward_id="r-c"),
        CustomerErasedV1(customer_id="cara", requested_at=NOW),
        granted("cara", points=1, reward_id="r-c2"),
        order,
        registered("dana", consent=False),
        granted("dana", points=3, reward_id="r-d"),
        revoked,
        key_client("dana"),
        code("eve"),
        key_client("eve"),
    ]


async def state(service: Service) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with service.db.session() as session:
        contacts = (await session.execute(select(Contact.__table__))).mappings().all()
        queued = (await session.execute(select(Message.__table__))).mappings().all()

    def plain(rows: Any) -> list[dict[str, Any]]:
        kept = [{k: v for k, v in row.items() if k not in IGNORED} for row in rows]
        return sorted(kept, key=repr)

    return plain(contacts), plain(queued)


async def test_a_batch_ends_as_its_events_one_transaction_at_a_time(make_outreach: OutreachFactory) -> None:
    records = [record_of(event, offset=n) for n, event in enumerate(awkward())]
    async with make_outreach() as batch:
        await batch.processor.process(records)
        in_one_batch = await state(batch)
    async with make_outreach(consume_mode="record") as one_by_one:
        await one_by_one.processor.process(records)
        one_at_a_time = await state(one_by_one)
    contacts, queued = in_one_batch
    assert {c["customer_id"] for c in contacts} == {"anna", "ben", "dana", "eve"}  # cara erased
    assert len(queued) > 10 and not [m for m in queued if m["customer_id"] == "cara"]
    assert in_one_batch == one_at_a_time
