"""feedback stores survey answers once, refuses invalid ones, and forgets an erased customer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from feedback.deliveries import Delivery
from feedback.models import Case, CaseEvent, CustomerTier, ErasedCustomer, Response
from sqlalchemy import distinct, func, select
from wom_chassis import Service
from wom_chassis.tables import InboxRecord
from wom_contracts import CustomerErasedV1, Money, ResponseSubmittedV1, TierChangedV1, encode
from wom_testkit import emitted, publish_event, record_of

from ..conftest import FeedbackFactory

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def answer(response_id: str = "r-1", customer: str = "ana", score: int = 3) -> ResponseSubmittedV1:
    return ResponseSubmittedV1(
        customer_id=customer,
        response_id=response_id,
        kind="nps",
        score=score,
        comment="Coletul a ajuns deteriorat",
        locale="ro",
        submitted_at=WHEN,
    )


async def responses(service: Service) -> list[Response]:
    async with service.db.session() as session:
        return list((await session.scalars(select(Response).order_by(Response.response_id))).all())


async def test_answers_are_stored_once(feedback: Service) -> None:
    await publish_event(feedback.broker, answer())
    await publish_event(feedback.broker, answer())  # the survey tool retried
    [stored] = await responses(feedback)
    assert (stored.customer_id, stored.kind, stored.score, stored.locale) == ("ana", "nps", 3, "ro")


async def test_an_out_of_range_score_is_dead_lettered_not_stored(feedback: Service) -> None:
    broker: KafkaBroker = feedback.broker
    dead: list[dict[str, bytes]] = []

    @broker.subscriber("feedback.dlq")
    async def keep(message: KafkaMessage) -> None:
        dead.append(dict(message.raw_message.headers))

    await broker.start()  # registers the new subscriber with the in-memory broker
    record = encode(answer(), source="survey-tool")
    data = json.loads(record.value) | {"score": 11}
    headers = {k: v.decode() for k, v in record.headers}
    await broker.publish(json.dumps(data).encode(), topic=record.topic, key=record.key, headers=headers)
    assert await responses(feedback) == []
    [letter] = dead
    assert letter["dlq.reason"] == b"invalid_event" and b"out of range 0" in letter["dlq.error"]


async def test_erasure_forgets_comments_and_ids_and_keeps_the_counts(feedback: Service) -> None:
    await publish_event(feedback.broker, answer("r-1", "ana"))
    await publish_event(feedback.broker, answer("r-2", "bo"))
    await publish_event(feedback.broker, CustomerErasedV1(customer_id="ana", requested_at=WHEN))
    kept = {r.response_id: r for r in await responses(feedback)}
    assert set(kept) == {"r-1", "r-2"}
    assert kept["r-1"].customer_id.startswith("erased-") and kept["r-1"].comment is None
    assert kept["r-1"].locale is None and kept["r-1"].score == 3
    assert kept["r-2"].customer_id == "bo" and kept["r-2"].comment == "Coletul a ajuns deteriorat"
    async with feedback.db.session() as session:
        cases = (await session.scalars(select(Case).order_by(Case.opened_at))).all()
    erased = [case for case in cases if case.customer_id.startswith("erased-")]
    assert len(cases) == 2 and len(erased) == 1
    assert (erased[0].status, erased[0].resolution, erased[0].open_for) == (
        "resolved",
        "customer_erased",
        None,
    )
    async with feedback.db.session() as session:
        payloads = [d.payload for d in (await session.scalars(select(Delivery))).all()]
    assert len(payloads) == 2 and sorted(p["customer_id"][:7] for p in payloads) == ["bo", "erased-"]
    await publish_event(feedback.broker, answer("r-3", "ana"))  # a late answer of the erased customer
    assert len(await responses(feedback)) == 2


def tier(customer: str, name: str, minutes: int = 0) -> TierChangedV1:
    return TierChangedV1(
        customer_id=customer,
        tier=name,
        trailing_revenue=Money(amount=Decimal("900"), currency="EUR"),
        occurred_at=WHEN + timedelta(minutes=minutes),
    )


def erased(customer: str) -> CustomerErasedV1:
    return CustomerErasedV1(customer_id=customer, requested_at=WHEN)


LOVELY = {"comment": "Lovely"}

BEFORE = [  # a batch of its own: what the batch below finds in the tables
    answer("g-1", "gus", score=5),  # an open case (P2, a damaged parcel)
    tier("hal", "key_client"),
    answer("i-1", "ivy", score=9).model_copy(update=LOVELY),
    answer("j-1", "jo", score=2),  # an open case, then the customer is erased
]

BATCH = [
    answer("r-1", "ana", score=3),  # opens a case
    answer("r-2", "ana", score=1),  # joins the case r-1 opened
    answer("r-1", "ana", score=3),  # the survey tool retried
    answer("r-3", "ana", score=10).model_copy(update=LOVELY),  # open case: no promoter
    tier("ana", "key_client"),  # the case r-1 opened in this batch moves up
    answer("r-4", "ana", score=5),  # joins as a key client's answer
    tier("gus", "key_client"),  # the case read from the tables moves up
    tier("cy", "key_client"),
    answer("c-1", "cy", score=6),  # opens a key client's case: P1, key-clients queue
    tier("dee", "key_client", minutes=2),
    tier("dee", "member", minutes=1),  # older than the one before: ignored
    answer("d-1", "dee", score=6),  # still a key client
    answer("b-1", "bo", score=2),  # opens a case
    erased("bo"),  # closes it, forgets the answer's comment
    answer("b-2", "bo", score=2),  # erased earlier in the batch: ignored
    tier("bo", "key_client"),  # ignored too
    erased("jo"),  # closes the case read from the tables
    answer("j-2", "jo", score=1),
    answer("h-1", "hal", score=6),  # a key client by the tables' tier
    answer("e-1", "eve", score=10).model_copy(update=LOVELY),  # a promoter
    answer("i-2", "ivy", score=10).model_copy(update=LOVELY),  # a promoter again
]


def _who(customer_id: str) -> str:
    return "erased" if customer_id.startswith("erased-") else customer_id


async def final_tables(service: Service) -> dict[str, Any]:
    """Every table the consume path writes, without what differs between two runs by nature
    (times, generated ids, pseudonyms): cases are named by the answer that opened them."""
    async with service.db.session() as session:
        cases = (await session.scalars(select(Case))).all()
        case_of = {case.case_id: case.first_response_id for case in cases}
        answers = (await session.scalars(select(Response).order_by(Response.response_id))).all()
        history = await session.scalars(select(CaseEvent).order_by(CaseEvent.at, CaseEvent.id))
        deliveries = (await session.scalars(select(Delivery))).all()
        tiers = await session.execute(
            select(CustomerTier.customer_id, CustomerTier.tier, CustomerTier.changed_at)
        )
        erasures = await session.scalars(select(ErasedCustomer.customer_hash))
    volatile = {"case_id", "customer_id", "occurred_at", "opened_at", "sla_due_at", "console_path"}
    return {
        "answers": [
            (
                a.response_id,
                _who(a.customer_id),
                a.score,
                a.comment,
                a.locale,
                a.category,
                a.signals,
                a.tier,
                case_of.get(a.case_id or ""),
            )
            for a in answers
        ],
        "cases": sorted(
            (
                c.first_response_id,
                _who(c.customer_id),
                c.status,
                c.priority,
                c.queue,
                c.key_client,
                c.tier,
                c.signals,
                c.resolution,
                c.open_for is None,
                c.sla_due_at - c.opened_at,
            )
            for c in cases
        ),
        "history": [(case_of[line.case_id], line.kind, line.detail) for line in history],
        "deliveries": sorted(
            (
                case_of[d.case_id],
                d.queue,
                d.channel,
                d.what,
                d.status,
                _who(d.payload["customer_id"]),
                sorted((k, str(v)) for k, v in d.payload.items() if k not in volatile),
            )
            for d in deliveries
        ),
        "tiers": sorted(tuple(row) for row in tiers),
        "erased": sorted(erasures),
        "outbox": [
            (
                type(e).__name__,
                _who(e.customer_id),
                case_of.get(getattr(e, "case_id", "")),
                sorted((k, str(v)) for k, v in e.model_dump().items() if k not in volatile),
            )
            for e in await emitted(service)
        ],
    }


async def test_one_batch_ends_as_one_event_at_a_time(make_feedback: FeedbackFactory) -> None:
    """Answers, tier changes and erasures in one batch end in the same tables as one event per
    transaction: the batch's view stays current (a case opened, joined and moved up in the
    batch, a tier learnt or ignored in it and read by later answers, an erasure that hides
    the customer's later events)."""
    ends, transactions = [], []
    for size in (1, len(BATCH)):
        async with make_feedback() as service:
            for phase in (BEFORE, BATCH):
                records = [record_of(event, offset=n) for n, event in enumerate(phase)]
                for start in range(0, len(records), size):
                    await service.processor.process(records[start : start + size])
            ends.append(await final_tables(service))
            async with service.db.session() as session:
                transactions.append(
                    await session.scalar(select(func.count(distinct(InboxRecord.processed_at))))
                )
    # the batch did not fail and fall back to one event at a time: one transaction per phase
    assert transactions == [len(BEFORE) + len(BATCH), 2]
    one_at_a_time, batch = ends
    assert batch == one_at_a_time
    cases = {case[0]: case[1:9] for case in batch["cases"]}
    damaged = ["damaged"]
    assert cases == {
        "g-1": ("gus", "open", "P1", "delivery", True, None, damaged, None),
        "j-1": ("erased", "resolved", "P2", "delivery", False, None, damaged, "customer_erased"),
        "r-1": ("ana", "open", "P1", "delivery", True, None, damaged, None),
        "c-1": ("cy", "open", "P1", "key-clients", True, "key_client", damaged, None),
        "d-1": ("dee", "open", "P1", "key-clients", True, "key_client", damaged, None),
        "b-1": ("erased", "resolved", "P2", "delivery", False, None, damaged, "customer_erased"),
        "h-1": ("hal", "open", "P1", "key-clients", True, "key_client", damaged, None),
    }
    answers = {a[0]: a for a in batch["answers"]}
    assert set(answers) == {"g-1", "i-1", "j-1", "r-1", "r-2", "r-3", "r-4", "c-1", "d-1", "b-1"} | {
        "h-1",
        "e-1",
        "i-2",
    }
    assert [answers[r][-1] for r in ("r-1", "r-2", "r-3", "r-4")] == ["r-1", "r-1", None, "r-1"]
    assert answers["r-4"][-2] == "key_client" and answers["b-1"][1:4] == ("erased", 2, None)
    ana = [line[1:] for line in batch["history"] if line[0] == "r-1"]
    assert [kind for kind, _ in ana] == ["opened", "joined", "priority_raised", "joined"]
    assert ana[2][1] == {"priority": "P1", "reason": "key_client"}
    assert ("dee", "key_client", WHEN + timedelta(minutes=2)) in batch["tiers"]
    promoters = [e[1] for e in batch["outbox"] if e[0] == "PromoterIdentifiedV1"]
    assert promoters == ["ivy", "eve", "ivy"]
