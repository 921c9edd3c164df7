"""feedback stores survey answers once, refuses invalid ones, and forgets an erased customer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from feedback.deliveries import Delivery
from feedback.models import Case, CaseEvent, Response
from sqlalchemy import select
from wom_chassis import Service
from wom_chassis.tables import OutboxRecord
from wom_chassis.testing import publish_event, record_of
from wom_contracts import CustomerErasedV1, ResponseSubmittedV1, encode

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


async def test_a_batch_reads_what_its_earlier_answers_wrote(feedback: Service) -> None:
    """One batch, one transaction: an answer sees the case an earlier answer of the batch opened
    (joined, no promoter announced), a retried answer is stored once, an erasure between two runs
    of answers applies to the second."""
    events = [
        answer("r-1", "ana", score=3),
        answer("r-2", "ana", score=1),  # joins the case r-1 opened
        answer("r-1", "ana", score=3),  # the survey tool retried
        answer("r-3", "ana", score=10).model_copy(update={"comment": "Lovely"}),  # open case: quiet
        CustomerErasedV1(customer_id="bo", requested_at=WHEN),
        answer("r-4", "bo", score=2),  # erased in this batch: ignored
    ]
    await feedback.processor.process([record_of(e, offset=n) for n, e in enumerate(events)])
    stored = {r.response_id: r for r in await responses(feedback)}
    assert set(stored) == {"r-1", "r-2", "r-3"}
    async with feedback.db.session() as session:
        [case] = (await session.scalars(select(Case))).all()
        kinds = list(
            await session.scalars(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == case.case_id)
                .order_by(CaseEvent.at, CaseEvent.id)
            )
        )
        outbox = list(await session.scalars(select(OutboxRecord.event_type)))
    assert stored["r-1"].case_id == stored["r-2"].case_id == case.case_id and stored["r-3"].case_id is None
    assert case.first_response_id == "r-1" and case.open_for == "ana"
    assert kinds[0] == "opened" and kinds.count("joined") == 1
    assert outbox == ["feedback.case.opened.v1"]
