"""Answers through the real consume path: classification, cases with priority, SLA and queue,
promoters, tiers, breaches with a controllable clock, claim and resolve."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from feedback.cases import CaseConflict, claim, mark_breaches, resolve
from feedback.models import Case, CaseEvent, Response
from feedback.rules import load_rules
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_contracts import (
    CaseBreachedV1,
    CaseOpenedV1,
    CaseResolvedV1,
    Money,
    PromoterIdentifiedV1,
    ResponseSubmittedV1,
    TierChangedV1,
)
from wom_testkit import emitted, publish_event

from ..conftest import FeedbackFactory

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def answer(
    response_id: str, customer: str = "ana", score: int = 3, kind: str = "nps", comment: str | None = None
) -> ResponseSubmittedV1:
    return ResponseSubmittedV1(
        customer_id=customer,
        response_id=response_id,
        kind=kind,  # type: ignore[arg-type]
        score=score,
        comment=comment,
        submitted_at=WHEN,
    )


def tier(customer: str, name: str, previous: str | None = "member") -> TierChangedV1:
    return TierChangedV1(
        customer_id=customer,
        previous_tier=previous,
        tier=name,
        trailing_revenue=Money(amount=Decimal("900"), currency="EUR"),
        occurred_at=utcnow(),
    )


async def cases(service: Service) -> list[Case]:
    async with service.db.session() as session:
        return list((await session.scalars(select(Case).order_by(Case.opened_at))).all())


async def stored(service: Service, response_id: str) -> Response:
    async with service.db.session() as session:
        found = await session.get(Response, response_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [
        ("nps", 10, "promoter"),
        ("nps", 9, "promoter"),
        ("nps", 8, "passive"),
        ("nps", 7, "passive"),
        ("nps", 6, "detractor"),
        ("nps", 0, "detractor"),
        ("csat", 5, "positive"),
        ("csat", 4, "positive"),
        ("csat", 3, "neutral"),
        ("review", 2, "negative"),
        ("review", 1, "negative"),
    ],
)
async def test_answers_are_classified_by_score(
    feedback: Service, kind: str, score: int, expected: str
) -> None:
    await publish_event(feedback.broker, answer("r-1", score=score, kind=kind))
    assert (await stored(feedback, "r-1")).category == expected
    assert bool(await cases(feedback)) is (expected in ("detractor", "negative"))


async def test_a_detractor_opens_a_case_with_priority_sla_and_queue(feedback: Service) -> None:
    before = utcnow()
    await publish_event(feedback.broker, answer("r-1", score=5))
    [case] = await cases(feedback)
    assert (case.status, case.priority, case.queue, case.key_client) == ("open", "P3", "support", False)
    assert timedelta(hours=72) <= case.sla_due_at - before < timedelta(hours=72, minutes=1)
    [opened] = await emitted(feedback, CaseOpenedV1)
    assert (opened.case_id, opened.response_id, opened.priority, opened.queue) == (
        case.case_id,
        "r-1",
        "P3",
        "support",
    )


async def test_a_high_score_with_a_broken_parcel_is_not_delight(feedback: Service) -> None:
    await publish_event(
        feedback.broker, answer("r-1", score=10, comment="10 — but the parcel arrived broken")
    )
    assert await emitted(feedback, PromoterIdentifiedV1) == []
    [case] = await cases(feedback)
    assert (case.priority, case.queue, case.signals) == ("P2", "delivery", ["damaged"])
    assert (await stored(feedback, "r-1")).signals == ["damaged"]


async def test_a_severe_score_is_p2(feedback: Service) -> None:
    await publish_event(feedback.broker, answer("r-1", score=2))
    assert [c.priority for c in await cases(feedback)] == ["P2"]


async def test_key_clients_come_first(feedback: Service) -> None:
    await publish_event(feedback.broker, tier("vip", "key_client"))
    await publish_event(feedback.broker, answer("r-1", customer="vip", score=6))
    [case] = await cases(feedback)
    assert (case.priority, case.queue, case.key_client, case.tier) == (
        "P1",
        "key-clients",
        True,
        "key_client",
    )
    [opened] = await emitted(feedback, CaseOpenedV1)
    assert opened.key_client and timedelta(hours=3, minutes=59) < opened.sla_due_at - utcnow() <= timedelta(
        hours=4
    )


async def test_a_customer_who_becomes_key_client_moves_up(feedback: Service) -> None:
    await publish_event(feedback.broker, answer("r-1", score=6))
    await publish_event(feedback.broker, tier("ana", "key_client"))
    [case] = await cases(feedback)
    assert (case.priority, case.key_client) == ("P1", True)
    assert case.sla_due_at - case.opened_at == timedelta(hours=4)


async def test_more_answers_join_the_open_case(feedback: Service) -> None:
    await publish_event(feedback.broker, answer("r-1", score=6))
    await publish_event(feedback.broker, answer("r-2", score=1, comment="Никто не ответил, ужасно"))
    [case] = await cases(feedback)
    assert case.priority == "P2" and case.signals == ["never_again", "rude_service"]
    assert len(await emitted(feedback, CaseOpenedV1)) == 1
    assert (await stored(feedback, "r-2")).case_id == case.case_id
    async with feedback.db.session() as session:
        lines = await session.scalars(select(CaseEvent).order_by(CaseEvent.at, CaseEvent.id))
        history = [line.kind for line in lines]
    assert history == ["opened", "joined", "priority_raised"]


async def test_promoters_are_announced_unless_they_have_an_open_case(feedback: Service) -> None:
    await publish_event(feedback.broker, answer("r-1", customer="bo", score=9))
    [promoter] = await emitted(feedback, PromoterIdentifiedV1)
    assert (promoter.customer_id, promoter.response_id, promoter.score) == ("bo", "r-1", 9)
    await publish_event(feedback.broker, answer("r-2", customer="ana", score=4))
    await publish_event(feedback.broker, answer("r-3", customer="ana", score=10))
    assert [p.customer_id for p in await emitted(feedback, PromoterIdentifiedV1)] == ["bo"]


async def test_breaches_are_marked_once_with_a_controllable_clock(feedback: Service) -> None:
    await publish_event(feedback.broker, tier("vip", "key_client"))
    await publish_event(feedback.broker, answer("r-1", customer="vip", score=6))
    await publish_event(feedback.broker, answer("r-2", customer="ana", score=6))
    rules = load_rules()
    async with feedback.work() as uow:
        assert await mark_breaches(uow, rules, now=utcnow() + timedelta(hours=3)) == []
    async with feedback.work() as uow:
        [breached] = await mark_breaches(uow, rules, now=utcnow() + timedelta(hours=5))
    assert breached.customer_id == "vip"
    async with feedback.work() as uow:
        assert await mark_breaches(uow, rules, now=utcnow() + timedelta(hours=6)) == []
    [event] = await emitted(feedback, CaseBreachedV1)
    assert (event.customer_id, event.priority, event.queue) == ("vip", "P1", "key-clients")


async def test_claim_and_resolve_with_compensation(feedback: Service) -> None:
    await publish_event(feedback.broker, answer("r-1", score=3))
    [case] = await cases(feedback)
    async with feedback.work() as uow:
        await claim(uow, case.case_id, "olga")
    with pytest.raises(CaseConflict, match="claimed by olga"):
        async with feedback.work() as uow:
            await claim(uow, case.case_id, "ivan")
    async with feedback.work() as uow:
        await resolve(
            uow,
            case.case_id,
            agent="olga",
            resolution="refunded",
            note="sent a new parcel",
            compensation=Money(amount=Decimal("15.00"), currency="EUR"),
        )
    [resolved] = await emitted(feedback, CaseResolvedV1)
    assert (resolved.case_id, resolved.resolution, resolved.resolved_by) == (case.case_id, "refunded", "olga")
    assert resolved.compensation == Money(amount=Decimal("15.00"), currency="EUR")
    # the customer's next negative answer opens a new case
    await publish_event(feedback.broker, answer("r-2", score=2))
    assert [c.status for c in await cases(feedback)] == ["resolved", "open"]


async def test_sla_hours_are_configurable(make_feedback: FeedbackFactory) -> None:
    async with make_feedback({"sla_hours": {"P1": 1, "P2": 2, "P3": 0.5}}) as service:
        await publish_event(service.broker, answer("r-1", score=6))
        [case] = await cases(service)
        assert case.sla_due_at - case.opened_at == timedelta(minutes=30)


OFFICE_RULES = {
    "calendars": {
        "office": {
            "time_zone": "Europe/Chisinau",
            "hours": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": ["2026-12-25"],
        }
    },
    "queues": [
        {
            "name": "key-clients",
            "when": {"key_client": True},
            "calendar": "office",
            "escalate_to": "supervisors",
        },
        {"name": "supervisors", "when": {"priorities": ["P1"], "kinds": ["review"]}},
        {"name": "support", "calendar": "office"},
    ],
}


async def test_a_queue_s_sla_counts_its_working_hours_and_a_breach_moves_the_case_on(
    make_feedback: FeedbackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 17:00 in Chisinau
    # the time units of work are done at (the module: wom_chassis.unit_of_work is also a function)
    monkeypatch.setattr(sys.modules["wom_chassis.unit_of_work"], "utcnow", lambda: friday)
    async with make_feedback(OFFICE_RULES) as feedback:
        await publish_event(feedback.broker, tier("vip", "key_client"))
        await publish_event(feedback.broker, answer("r-1", customer="vip", score=6))
        await publish_event(feedback.broker, answer("r-2", customer="ana", score=6))
        vip, ana = sorted(await cases(feedback), key=lambda case: case.customer_id, reverse=True)
        # P1's 4 hours: 1 on Friday, 3 on Monday, to 12:00 local (10:00 UTC); P3's 72: 1 on
        # Friday, then 9 a working day, to Wednesday the 16th at 17:00 local (wall clock: Monday)
        assert (vip.queue, vip.opened_at, vip.sla_due_at) == (
            "key-clients",
            friday,
            datetime(2026, 12, 7, 10, tzinfo=UTC),
        )
        assert (ana.queue, ana.sla_due_at) == ("support", datetime(2026, 12, 16, 15, tzinfo=UTC))
        async with feedback.work() as uow:
            await claim(uow, vip.case_id, "olga")
        rules = load_rules(feedback.settings.feedback_rules_file)
        async with feedback.work() as uow:
            assert await mark_breaches(uow, rules, now=datetime(2026, 12, 7, 9, 59, tzinfo=UTC)) == []
        async with feedback.work() as uow:
            [breached] = await mark_breaches(uow, rules, now=datetime(2026, 12, 7, 10, 1, tzinfo=UTC))
        assert (breached.queue, breached.status, breached.claimed_by) == ("supervisors", "open", None)
        [event] = await emitted(feedback, CaseBreachedV1)
        assert (event.case_id, event.queue) == (vip.case_id, "key-clients")  # where it breached
        async with feedback.db.session() as session:
            lines = select(CaseEvent).where(CaseEvent.case_id == vip.case_id).order_by(CaseEvent.id)
            history = (await session.scalars(lines)).all()
        assert [line.kind for line in history][-2:] == ["breached", "reassigned"]
        assert history[-1].detail == {
            "from": "key-clients",
            "to": "supervisors",
            "reason": "breached",
            "released_from": "olga",
        }
        async with feedback.work() as uow:  # breached once: not moved on again
            assert await mark_breaches(uow, rules, now=datetime(2026, 12, 8, 10, tzinfo=UTC)) == []
