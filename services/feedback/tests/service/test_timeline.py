"""The customers' timelines through the real consume path: every kind of the other services'
events, both sides of a referral, the page's merge with answers and cases, and erasure."""

from __future__ import annotations

import json
import re
from pathlib import Path

from feedback.models import CustomerEmail, TimelineEntry
from feedback.queries import customer_record
from sqlalchemy import select
from wom_chassis import Service
from wom_contracts import CustomerErasedV1
from wom_testkit import publish_event, record_of
from wom_testkit.scan import row_occurrences, table_rows

from ..conftest import FeedbackFactory
from ..timeline_events import hour, timeline_events
from .test_cases import answer
from .test_console import client, log_in, write_agents


async def entries(service: Service) -> list[TimelineEntry]:
    async with service.db.session() as session:
        query = select(TimelineEntry).order_by(TimelineEntry.customer_id, TimelineEntry.at)
        return list((await session.scalars(query)).all())


async def test_every_event_kind_lands_in_the_timelines_it_concerns(feedback: Service) -> None:
    for event in timeline_events():
        await publish_event(feedback.broker, event)
    rows = await entries(feedback)
    ana = [row for row in rows if row.customer_id == "ana"]
    bo = [row for row in rows if row.customer_id == "bo"]
    assert [row.at for row in ana] == [hour(n) for n in range(-1, 17)] and len(bo) == 4
    assert [(row.kind, row.other_customer_id, row.detail["role"]) for row in bo][:2] == [
        ("referral_attributed", "ana", "friend"),
        ("referral_qualified", "ana", "friend"),
    ]
    assert next(row for row in ana if row.kind == "reward_revoked").detail["reason"] == "order_fully_refunded"
    await publish_event(
        feedback.broker, answer("r-1", customer="ana", score=2).model_copy(update={"submitted_at": hour(20)})
    )
    async with feedback.db.session() as session:
        record = await customer_record(session, "ana", limit=200)
        assert await customer_record(session, "nobody", limit=200) is None
    assert record is not None and record.tier == "key_client"
    kinds = [line.kind for line in record.lines]
    assert kinds[0] in {"answer", "case_opened"} and {"answer", "case_opened"} <= set(kinds[:2])
    assert kinds[2:] == [row.kind for row in reversed(ana)]  # newest first
    assert [line.at for line in record.lines] == sorted((line.at for line in record.lines), reverse=True)


async def test_erasure_removes_the_timeline_and_the_name_in_others(feedback: Service) -> None:
    for event in timeline_events():
        await publish_event(feedback.broker, event)
    await publish_event(feedback.broker, CustomerErasedV1(customer_id="bo", requested_at=hour(30)))
    rows = await entries(feedback)
    assert {row.customer_id for row in rows} == {"ana"}
    assert all(row.other_customer_id is None for row in rows)  # ana referred somebody, no longer named
    for event in timeline_events():  # late events about an erased friend name nobody
        if getattr(event, "advocate_customer_id", None):
            await publish_event(feedback.broker, event.model_copy(update={"referral_id": "ref-2"}))
    assert {(row.customer_id, row.other_customer_id) for row in await entries(feedback)} == {("ana", None)}
    await publish_event(feedback.broker, CustomerErasedV1(customer_id="ana", requested_at=hour(31)))
    assert await entries(feedback) == []
    assert row_occurrences(await table_rows(feedback.db.engine), ["ana", "bo"]) == []


async def test_the_customer_page_shows_the_timeline_newest_first(
    make_feedback: FeedbackFactory, tmp_path: Path
) -> None:
    agents = {"feedback_agents_file": write_agents(tmp_path / "agents.yaml"), "feedback_session_secret": "s"}
    async with make_feedback(None, **agents) as feedback:
        for event in timeline_events():
            await publish_event(feedback.broker, event)
        await publish_event(feedback.broker, answer("r-1", customer="ana", score=2))
        async with client(feedback) as http:
            await log_in(http)
            page = await http.get("/console/customers/ana")
            found = await http.get("/console/customers", params={"q": " ana "})
            by_email = await http.get("/console/customers", params={"q": "ana.pop@EXAMPLE.com"})
            other_email = await http.get("/console/customers", params={"q": "bo@example.com"})
            missing = await http.get("/console/customers", params={"q": "nobody"})
            case_page = await http.get(re.findall(r'href="(/console/cases/[^"]+)"', page.text)[0])
        async with client(feedback) as http:
            await log_in(http, "ben")  # ben works the delivery queue only: ana has no case there
            foreign = await http.get("/console/customers/ana")
            foreign_search = await http.get("/console/customers", params={"q": "ana"})
    assert page.status_code == 200
    kinds = re.findall(r'class="line" data-kind="([a-z_]+)"', page.text)
    assert sorted(kinds[:2]) == ["answer", "case_opened"]  # the answer and its case, at one time
    assert kinds[2:] == [
        "message_suppressed", "message_failed", "points_expiring", "reward_redeemed", "reward_withheld",
        "referral_rejected", "referral_reversed", "reward_revoked", "order_refunded", "reward_released",
        "referral_qualified", "referral_attributed", "referral_code_issued", "tier_changed", "message_sent",
        "reward_granted", "order_completed", "registered",
    ]  # fmt: skip
    text = re.sub(r"\s+", " ", page.text)
    assert "o-1 · €42.50 · 1 item · web" in text
    assert (
        'Referral rejected (made)</td> <td>ref-1 · <span class="badge">self_referral</span>'
        " · decided by rules" in text
    )
    assert (
        'Reward clawed back</td> <td>earn · 40 points · <span class="badge">order_fully_refunded</span>'
        in text
    )
    assert "SECRET-COUPON" not in page.text
    assert found.status_code == 303 and found.headers["location"] == "/console/customers/ana"
    assert by_email.status_code == 303 and by_email.headers["location"] == "/console/customers/ana"
    assert other_email.status_code == 404
    assert missing.status_code == 404 and "No customer “nobody” is known" in missing.text
    assert 'href="/console/customers/ana"' in case_page.text  # every case links to its customer
    assert foreign.status_code == 404 and foreign_search.status_code == 404


async def test_one_batch_of_timeline_events_ends_as_one_event_at_a_time(
    make_feedback: FeedbackFactory,
) -> None:
    """Every kind and an erasure of the friend in the middle (her lines gone, her name in ana's
    before and after it too): the same lines and email hashes either way."""
    events = timeline_events()
    events.insert(8, CustomerErasedV1(customer_id="bo", requested_at=hour(7)))
    ends = []
    for size in (1, len(events)):
        async with make_feedback() as service:
            records = [record_of(event, offset=n) for n, event in enumerate(events)]
            for start in range(0, len(records), size):
                await service.processor.process(records[start : start + size])
            async with service.db.session() as session:
                emails = sorted(
                    (await session.execute(select(CustomerEmail.customer_id, CustomerEmail.email_hash))).all()
                )
            lines = sorted(
                (r.customer_id, r.other_customer_id, r.at, r.kind, json.dumps(r.detail))
                for r in await entries(service)
            )
            ends.append((lines, emails))
    one_at_a_time, batch = ends
    assert batch == one_at_a_time
    lines, emails = batch
    assert {line[0] for line in lines} == {"ana"} and len(emails) == 1
    referrals = [
        line for line in lines if line[3].startswith("referral_") and line[3] != "referral_code_issued"
    ]
    assert len(referrals) == 4 and {line[1] for line in referrals} == {None}  # the friend is named nowhere
