"""The analytics API and the console chart over a small known history, seeded through the real
consume path (answers and tier changes) and resolved through `feedback.cases.resolve`.

The service stamps cases with the wall clock; `pin_case_clock` moves each case to known moments
of November 2026 (opened when its first answer was submitted, due by its priority's SLA), so
every figure below is exact.

The history, 1–7 November (Hal's answer on 31 October and Fay's on 8 November are outside):

| customer | tier | answers | case |
|---|---|---|---|
| ana | (none) | NPS 2 (1st), NPS 8 (3rd): recovered | A: P2 support, 12 h, in time |
| bo | member | NPS 10 (1st), NPS 9 (5th) | |
| kim | key_client | NPS 5 (2nd), NPS 5 (4th): equal, not recovered | B: P1 key-clients, 24 h, late |
| ray | repeat_buyer | NPS 7 (3rd) | |
| cy | | CSAT 1 "broken" (3rd), CSAT 4 (5th): recovered | C: P2 delivery, 6 h, in time |
| dee, eli | | CSAT 5, CSAT 3 | |
| fay | | review 2 (4th), review 5 (8 Nov, too late) | D: P3 support, open, breached 7th |
| gus, ivy | | review 5, review 4 | |
| hal | | NPS 0 (31 Oct) | E: P2 support, 25 h, late, resolved 1st |
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from feedback import cases
from feedback.analytics_api import console_chart
from feedback.app import create_app
from feedback.models import Case
from feedback.settings import FeedbackSettings
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_contracts import Money, ResponseSubmittedV1, TierChangedV1
from wom_testkit import database_backends, empty_database_url, in_memory_service, publish_event
from wom_testkit.reports import assert_bad_periods_refused

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEEK = {"from": "2026-11-01", "to": "2026-11-07"}
PATHS = ("/analytics/summary", "/analytics/nps/daily", "/analytics/cases/daily")
SLA_HOURS = {"P1": 4, "P2": 24, "P3": 72}  # the shipped rules


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(params=database_backends())
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    url = await empty_database_url(request.param, tmp_path)
    app = create_app(FeedbackSettings(database_url=url, api_token=TOKEN))
    async with in_memory_service(app) as running:
        yield running


@pytest.fixture
async def client(service: Service) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=service.http), base_url="http://test") as http:
        yield http


async def answer(
    service: Service, customer: str, kind: str, score: int, when: datetime, comment: str | None = None
) -> None:
    await publish_event(
        service.broker,
        ResponseSubmittedV1(
            customer_id=customer,
            response_id=f"{customer}-{kind}-{when:%m%d%H}",
            kind=kind,
            score=score,
            comment=comment,
            submitted_at=when,
        ),
    )


async def tier(service: Service, customer: str, name: str, previous: str = "member") -> None:
    # previous_tier is never None here: the contract drops a None field on encoding and then
    # requires it on decoding, so a first tier change is dead-lettered (reported, not ours)
    await publish_event(
        service.broker,
        TierChangedV1(
            customer_id=customer,
            previous_tier=previous,
            tier=name,
            trailing_revenue=Money(amount=Decimal("100"), currency="EUR"),
            occurred_at=at(1, month=10),
        ),
    )


async def pin_case_clock(service: Service, moments: dict[str, dict[str, datetime]]) -> None:
    """Per customer's case: opened at `opened`, due by its priority's SLA, resolved and breached
    at the given moments (or never)."""
    async with service.db.transaction() as session:
        for case in await session.scalars(select(Case)):
            known = moments[case.customer_id]
            case.opened_at = known["opened"]
            case.sla_due_at = known["opened"] + timedelta(hours=SLA_HOURS[case.priority])
            case.resolved_at = known.get("resolved")
            case.breached_at = known.get("breached")


@pytest.fixture
async def november(service: Service) -> dict[str, Case]:
    """The known history; returns each customer's case."""
    await tier(service, "bo", "member", previous="repeat_buyer")
    await tier(service, "kim", "key_client")
    await tier(service, "ray", "repeat_buyer")
    await answer(service, "hal", "nps", 0, at(31, 9, month=10))
    await answer(service, "ana", "nps", 2, at(1, 9))
    await answer(service, "bo", "nps", 10, at(1, 12))
    await answer(service, "kim", "nps", 5, at(2, 8))
    await answer(service, "ana", "nps", 8, at(3, 10))
    await answer(service, "ray", "nps", 7, at(3, 11))
    await answer(service, "cy", "csat", 1, at(3, 10), comment="The mug arrived broken")
    await answer(service, "kim", "nps", 5, at(4, 8))  # joins Kim's open case
    await answer(service, "dee", "csat", 5, at(4, 9))
    await answer(service, "fay", "review", 2, at(4, 9))
    await answer(service, "bo", "nps", 9, at(5, 12))
    await answer(service, "cy", "csat", 4, at(5, 10))
    await answer(service, "eli", "csat", 3, at(5, 11))
    await answer(service, "gus", "review", 5, at(6, 10))
    await answer(service, "ivy", "review", 4, at(7, 10))
    await answer(service, "fay", "review", 5, at(8, 10))
    async with service.db.session() as session:
        opened = {case.customer_id: case for case in await session.scalars(select(Case))}
    assert {customer: (c.priority, c.queue) for customer, c in opened.items()} == {
        "hal": ("P2", "support"),
        "ana": ("P2", "support"),
        "kim": ("P1", "key-clients"),
        "cy": ("P2", "delivery"),
        "fay": ("P3", "support"),
    }
    for customer in ("hal", "ana", "kim", "cy"):
        async with service.work() as uow:
            await cases.resolve(
                uow,
                opened[customer].case_id,
                agent="agent",
                resolution="apologised",
                note=None,
                compensation=None,
            )
    await pin_case_clock(
        service,
        {
            "hal": {"opened": at(31, 9, month=10), "breached": at(1, 9, 1), "resolved": at(1, 10)},
            "ana": {"opened": at(1, 9), "resolved": at(1, 21)},
            "kim": {"opened": at(2, 8), "breached": at(2, 12, 1), "resolved": at(3, 8)},
            "cy": {"opened": at(3, 10), "resolved": at(3, 16)},
            "fay": {"opened": at(4, 9), "breached": at(7, 9, 5)},
        },
    )
    return opened


async def get(client: AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_analytics_endpoint_needs_the_token(client: AsyncClient) -> None:
    for path in PATHS:
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await client.get(path, headers=AUTH)).status_code == 200


async def test_a_bad_period_is_a_clear_422(client: AsyncClient) -> None:
    await assert_bad_periods_refused(client, PATHS, AUTH)
    leap_year = await get(client, "/analytics/summary", **{"from": "2024-01-01", "to": "2024-12-31"})
    assert leap_year["period"] == {"from": "2024-01-01", "to": "2024-12-31", "days": 366}


async def test_the_default_period_is_the_last_30_days(client: AsyncClient) -> None:
    today = utcnow().date()
    summary = await get(client, "/analytics/summary")
    assert summary["period"] == {
        "from": (today - timedelta(days=29)).isoformat(),
        "to": today.isoformat(),
        "days": 30,
    }
    for path in PATHS[1:]:
        days = (await get(client, path))["days"]
        assert len(days) == 30 and days[-1]["day"] == today.isoformat()


async def test_the_summary_of_a_known_history(client: AsyncClient, november: dict[str, Case]) -> None:
    summary = await get(client, "/analytics/summary", **WEEK)
    assert summary["period"] == {"from": "2026-11-01", "to": "2026-11-07", "days": 7}
    nps = summary["nps"]
    # ana 2 and 8, bo 10 and 9, kim 5 and 5, ray 7: (2 − 3) / 7
    assert {key: nps[key] for key in ("answers", "promoters", "passives", "detractors", "nps")} == {
        "answers": 7,
        "promoters": 2,
        "passives": 2,
        "detractors": 3,
        "nps": -14.29,
    }
    assert "% promoters" in nps["definition"]
    assert summary["nps_by_tier"] == {
        "key_client": {"answers": 2, "promoters": 0, "passives": 0, "detractors": 2, "nps": -100.0},
        "member": {
            "answers": 4,
            "promoters": 2,
            "passives": 1,
            "detractors": 1,
            "nps": 25.0,
        },  # ana (none), bo
        "repeat_buyer": {"answers": 1, "promoters": 0, "passives": 1, "detractors": 0, "nps": 0.0},
    }
    assert {key: summary["csat"][key] for key in ("answers", "satisfied", "csat")} == {
        "answers": 4,
        "satisfied": 2,
        "csat": 50.0,
    }
    assert summary["reviews"] == {"reviews": 3, "average": 3.67}  # fay 2, gus 5, ivy 4
    assert summary["case_volume"] == {
        "opened": 4,
        "by_priority": {"P1": 1, "P2": 2, "P3": 1},
        "by_queue": {"delivery": 1, "key-clients": 1, "support": 2},
    }
    sla = summary["sla"]
    assert {key: sla[key] for key in ("resolved", "resolved_in_time", "compliance", "breached_open")} == {
        "resolved": 4,  # ana and cy in time; kim and hal late
        "resolved_in_time": 2,
        "compliance": 50.0,
        "breached_open": 1,  # fay
    }
    assert summary["time_to_resolve"] == {
        "overall": {"count": 4, "median_hours": 18.0, "mean_hours": 16.75},  # 6, 12, 24, 25
        "by_priority": {
            "P1": {"count": 1, "median_hours": 24.0, "mean_hours": 24.0},
            "P2": {"count": 3, "median_hours": 12.0, "mean_hours": 14.33},
        },
    }
    recovery = summary["recovery"]
    # ana and cy answered better later; kim answered the same; fay's better review was too late
    assert (recovery["customers"], recovery["recovered"], recovery["rate"]) == (4, 2, 50.0)


async def test_a_later_period_sees_other_figures(client: AsyncClient, november: dict[str, Case]) -> None:
    eight_days = await get(client, "/analytics/summary", **{"from": "2026-11-01", "to": "2026-11-08"})
    assert eight_days["recovery"]["recovered"] == 3  # fay's 5 on the 8th now counts
    assert eight_days["reviews"] == {"reviews": 4, "average": 4.0}
    assert eight_days["sla"]["breached_open"] == 1
    before = await get(client, "/analytics/summary", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert before["nps"]["nps"] == -100.0 and before["csat"]["csat"] is None
    assert before["reviews"] == {"reviews": 0, "average": None}
    assert (before["recovery"]["customers"], before["recovery"]["rate"]) == (1, 0.0)  # hal, no answer since
    assert before["sla"]["compliance"] is None
    assert before["sla"]["breached_open"] == 0  # hal's case was not yet due on 1 November
    assert before["case_volume"] == {"opened": 1, "by_priority": {"P2": 1}, "by_queue": {"support": 1}}


async def test_nps_per_day(client: AsyncClient, november: dict[str, Case]) -> None:
    daily = await get(client, "/analytics/nps/daily", **WEEK)
    assert daily["period"]["days"] == 7
    points = {
        day["day"][-2:]: (day["answers"], day["promoters"], day["passives"], day["detractors"], day["nps"])
        for day in daily["days"]
    }
    assert points == {
        "01": (2, 1, 0, 1, 0.0),  # ana 2, bo 10
        "02": (1, 0, 0, 1, -100.0),  # kim 5
        "03": (2, 0, 2, 0, 0.0),  # ana 8, ray 7
        "04": (1, 0, 0, 1, -100.0),  # kim 5
        "05": (1, 1, 0, 0, 100.0),  # bo 9
        "06": (0, 0, 0, 0, None),
        "07": (0, 0, 0, 0, None),
    }


async def test_cases_per_day(client: AsyncClient, november: dict[str, Case]) -> None:
    daily = await get(client, "/analytics/cases/daily", **WEEK)
    points = {day["day"][-2:]: (day["opened"], day["resolved"], day["breached"]) for day in daily["days"]}
    assert points == {
        "01": (1, 2, 1),  # ana opened and resolved; hal resolved and breached
        "02": (1, 0, 1),  # kim opened and breached
        "03": (1, 2, 0),  # cy opened and resolved; kim resolved
        "04": (1, 0, 0),  # fay opened
        "05": (0, 0, 0),
        "06": (0, 0, 0),
        "07": (0, 0, 1),  # fay breached
    }


EXTERNAL = re.compile(
    r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import""", re.I
)


def assert_offline_svg(markup: str) -> None:
    assert markup.count("<svg") == 2
    assert "<script" not in markup.lower() and "<!--" not in markup
    assert not EXTERNAL.search(markup)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", markup)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


async def test_the_console_chart_is_inline_svg_without_script(
    service: Service, november: dict[str, Case]
) -> None:
    async with service.db.session() as session:
        markup = await console_chart(session)
    assert_offline_svg(markup)
    assert "NPS per day" in markup and "Cases per day" in markup
    assert "-100" in markup  # Kim's days


async def test_the_console_chart_of_an_empty_month(service: Service) -> None:
    async with service.db.session() as session:
        markup = await console_chart(session)
    assert_offline_svg(markup)
