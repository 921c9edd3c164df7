"""The analytics API and page over a small known history, seeded through the real consume path
(events) and the real share link (clicks).

The service stamps some rows with the wall clock (code issuance, decisions, reversals, clicks);
`pin_wall_clock` moves those stamps to known moments of November 2026, so every figure below is
exact.

The history: Anna is a root advocate. Ben and Eve signed up with Anna's code; Cara and Gus
(at checkout, after an earlier order of his own) with Ben's; Dan with Cara's. Ben qualified,
Cara qualified and was reversed by a full refund, Dan's first order was below the minimum, Gus
had ordered before the code, and Anna tried her own code."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from referrals.models import Click, Customer, Referral, ReferralCode
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_contracts import CustomerRegisteredV1, Money, OrderCompletedV1, OrderRefundedV1
from wom_testkit import publish_event
from wom_testkit.reports import assert_bad_periods_refused

from ..conftest import AUTH, TOKEN

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-07"}


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def money(amount: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


async def register(service: Service, customer: str, when: datetime, code: str | None = None) -> str:
    """Register the customer (with a friend's code) and return their own code."""
    await publish_event(
        service.broker,
        CustomerRegisteredV1(
            customer_id=customer,
            email=f"{customer}@example.com",
            first_name=customer.capitalize(),
            registered_at=when,
            referral_code=code,
        ),
    )
    async with service.db.session() as session:
        own = await session.scalar(select(ReferralCode.code).where(ReferralCode.customer_id == customer))
    assert own is not None
    return str(own)


async def order(
    service: Service, customer: str, order_id: str, total: Money, when: datetime, code: str | None = None
) -> None:
    await publish_event(
        service.broker,
        OrderCompletedV1(
            customer_id=customer, order_id=order_id, total=total, completed_at=when, referral_code=code
        ),
    )


async def refund(service: Service, customer: str, order_id: str, amount: Money, when: datetime) -> None:
    await publish_event(
        service.broker,
        OrderRefundedV1(
            customer_id=customer,
            refund_id=f"rf-{order_id}",
            order_id=order_id,
            amount=amount,
            refunded_at=when,
        ),
    )


async def pin_wall_clock(service: Service, clicks_at: dict[str, datetime], reversed_at: datetime) -> None:
    """Codes issued when their owner registered; decisions an hour after the first order (or the
    attribution); reversals and clicks at the given moments."""
    async with service.db.transaction() as session:
        registered: dict[str, datetime] = dict(
            (await session.execute(select(Customer.customer_id, Customer.registered_at))).all()
        )
        for code in await session.scalars(select(ReferralCode)):
            code.issued_at = registered[code.customer_id]
        for referral in await session.scalars(select(Referral).where(Referral.decided_at.is_not(None))):
            referral.decided_at = (referral.order_completed_at or referral.attributed_at) + timedelta(hours=1)
            if referral.reversed_at is not None:
                referral.reversed_at = reversed_at
        for click in await session.scalars(select(Click)):
            click.clicked_at = clicks_at[click.code]


@pytest.fixture
async def client(referrals: Service) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=referrals.http), base_url="http://test") as http:
        yield http


@pytest.fixture
async def november(referrals: Service, client: AsyncClient) -> dict[str, str]:
    """The known history; returns each customer's code."""
    svc = referrals
    codes = {"anna": await register(svc, "anna", at(1, 8))}
    codes["gus"] = await register(svc, "gus", at(1, 7))
    codes["ben"] = await register(svc, "ben", at(2, 10), codes["anna"])
    codes["cara"] = await register(svc, "cara", at(3, 9), codes["ben"])
    codes["dan"] = await register(svc, "dan", at(4, 9), codes["cara"])
    codes["eve"] = await register(svc, "eve", at(5, 8), codes["anna"])
    await order(svc, "gus", "o-g1", money("40.00"), at(2, 9))  # before Ben's code: not referred revenue
    await order(svc, "ben", "o-b1", money("50.00"), at(3, 12))  # qualifies Ben
    await order(svc, "gus", "o-g2", money("25.00"), at(3, 15), codes["ben"])  # attributes Gus at checkout
    await order(svc, "cara", "o-c1", money("30.00"), at(4, 15))  # qualifies Cara ...
    await refund(svc, "ben", "o-b1", money("5.00"), at(4, 18))  # partial: Ben still qualifies
    await refund(svc, "cara", "o-c1", money("30.00"), at(5, 9))  # ... and reverses her
    await order(svc, "dan", "o-d1", money("10.00"), at(5, 10))  # below the minimum
    await order(svc, "ben", "o-b2", money("12.50", "USD"), at(6, 11))
    await order(svc, "anna", "o-a1", money("60.00"), at(6, 12), codes["anna"])  # her own code
    assert (await client.get(f"/r/{codes['anna']}")).status_code == 302
    for user_agent in ("phone", "phone", "phone", "laptop"):  # one visitor thrice (a click), another once
        response = await client.get(f"/r/{codes['ben']}", headers={"user-agent": user_agent})
        assert response.status_code == 302
    await pin_wall_clock(svc, {codes["anna"]: at(2, 9), codes["ben"]: at(3, 8)}, reversed_at=at(5, 9))
    async with svc.db.session() as session:
        statuses: dict[str, str] = dict(
            (await session.execute(select(Referral.friend_id, Referral.status))).all()
        )
    assert statuses == {
        "ben": "qualified",
        "cara": "reversed",
        "dan": "rejected",
        "eve": "attributed",
        "gus": "rejected",
        "anna": "rejected",
    }
    return codes


async def get(client: AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_analytics_endpoint_needs_the_token(referrals: Service, client: AsyncClient) -> None:
    paths = ["/analytics", "/analytics/summary", "/analytics/funnel/daily"]
    paths += ["/analytics/funnel/advocates", "/analytics/leaderboard"]
    for path in paths:
        refused = await client.get(path)
        assert refused.status_code == 401
        # a challenge a field, Basic first: a browser reads one challenge per field
        assert refused.headers.get_list("www-authenticate") == ['Basic realm="wom", charset="UTF-8"',
                                                                'Bearer realm="wom"']  # fmt: skip
        assert (await client.get(path, headers={"Authorization": "Bearer wrong"})).status_code == 401
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert (await client.get("/analytics", headers={"Authorization": f"Basic {basic}"})).status_code == 200


async def test_a_bad_period_is_a_clear_422(referrals: Service, client: AsyncClient) -> None:
    await assert_bad_periods_refused(
        client,
        ("/analytics/summary", "/analytics/funnel/daily", "/analytics/leaderboard", "/analytics"),
        AUTH,
    )
    too_many = await client.get("/analytics/leaderboard", params={"limit": 101}, headers=AUTH)
    assert too_many.status_code == 422
    far = await client.get("/analytics/funnel/advocates", params={"offset": 2**63}, headers=AUTH)
    assert far.status_code == 422 and far.json()["detail"][0]["loc"] == ["query", "offset"]
    leap_year = await get(client, "/analytics/summary", **{"from": "2024-01-01", "to": "2024-12-31"})
    assert leap_year["period"] == {"from": "2024-01-01", "to": "2024-12-31", "days": 366}


async def test_the_default_period_is_the_last_30_days(referrals: Service, client: AsyncClient) -> None:
    today = utcnow().date()
    summary = await get(client, "/analytics/summary")
    assert summary["period"] == {
        "from": (today - timedelta(days=29)).isoformat(),
        "to": today.isoformat(),
        "days": 30,
    }
    assert len((await get(client, "/analytics/funnel/daily"))["days"]) == 30


async def test_the_summary_of_a_known_history(client: AsyncClient, november: dict[str, str]) -> None:
    summary = await get(client, "/analytics/summary", **NOVEMBER)
    assert summary["period"] == {"from": "2026-11-01", "to": "2026-11-07", "days": 7}
    assert summary["funnel"] == {
        "clicks": 3,  # Ben's first visitor came thrice in one hour: one click
        "unique_clicks": 3,
        "signups": 5,  # Ben, Cara, Dan, Eve, Gus; not Anna's own code
        "first_orders": 4,  # Ben, Cara, Dan, Gus
        "qualified": 2,  # Ben, and Cara, who qualified before her refund
        "rates": {
            "signups_per_click": 1.6667,
            "first_orders_per_signup": 0.8,
            "qualified_per_first_order": 0.5,
        },
    }
    k = summary["k_factor"]
    assert (k["customers"], k["invitations"], k["signups"], k["qualified"]) == (6, 3, 5, 2)
    assert k["invitation_rate"] == 0.5 and k["conversion_rate"] == 1.6667
    assert k["k_factor"] == 0.8333 and k["k_factor_qualified"] == 0.3333
    assert "clicks are the proxy for invitations" in k["definition"]
    # code issued → signed up: Ben 26 h, Cara 23 h, Dan 24 h, Eve 96 h, Gus 29 h
    assert summary["cycle_times"]["referral_cycle"] == {"count": 5, "median_hours": 26.0, "mean_hours": 39.6}
    # signed up → qualified: Ben 27 h, Cara 31 h
    assert summary["cycle_times"]["time_to_qualify"] == {"count": 2, "median_hours": 29.0, "mean_hours": 29.0}
    depth = summary["chain_depth"]
    assert (depth["max_depth"], depth["referrals"], depth["in_loops"]) == (3, 5, 0)
    assert depth["distribution"] == {"1": 2, "2": 2, "3": 1}  # Ben, Eve · Cara, Gus · Dan
    assert summary["rejections"] == {
        "rejected": {"below_minimum_order": 1, "not_first_order": 1, "self_referral_same_customer": 1},
        "reversed": {"order_fully_refunded": 1},
    }
    # EUR: Ben 50 − 5, Cara 30 − 30, Dan 10, Gus 25 (his order before the code does not count)
    assert summary["referred_revenue"] == {"EUR": "80.00", "USD": "12.50"}


async def test_a_period_without_anything_has_null_ratios(
    client: AsyncClient, november: dict[str, str]
) -> None:
    before = await get(client, "/analytics/summary", **{"from": "2026-10-01", "to": "2026-10-31"})
    k = before["k_factor"]
    assert (k["customers"], k["invitation_rate"], k["conversion_rate"], k["k_factor"]) == (
        0,
        None,
        None,
        None,
    )
    assert k["k_factor_qualified"] is None
    assert before["cycle_times"]["referral_cycle"] == {"count": 0, "median_hours": None, "mean_hours": None}
    assert before["chain_depth"]["max_depth"] == 0 and before["referred_revenue"] == {}


async def test_the_daily_funnel_has_every_day(client: AsyncClient, november: dict[str, str]) -> None:
    daily = await get(client, "/analytics/funnel/daily", **NOVEMBER)
    points = {
        day["day"][-2:]: (
            day["clicks"],
            day["unique_clicks"],
            day["signups"],
            day["first_orders"],
            day["qualified"],
        )
        for day in daily["days"]
    }
    assert points == {
        "01": (0, 0, 0, 0, 0),
        "02": (1, 1, 1, 1, 0),  # Anna's click; Ben signs up; Gus's first order (before his code)
        "03": (2, 2, 2, 1, 1),  # Ben's clicks; Cara and Gus sign up; Ben orders and qualifies
        "04": (0, 0, 1, 1, 1),  # Dan signs up; Cara orders and qualifies
        "05": (0, 0, 1, 1, 0),  # Eve signs up; Dan orders
        "06": (0, 0, 0, 0, 0),
        "07": (0, 0, 0, 0, 0),
    }
    one_day = await get(client, "/analytics/funnel/daily", **{"from": "2026-11-03", "to": "2026-11-03"})
    assert [(d["day"], d["signups"]) for d in one_day["days"]] == [("2026-11-03", 2)]


async def test_the_funnel_per_advocate_and_the_leaderboard(
    client: AsyncClient, november: dict[str, str]
) -> None:
    funnel = await get(client, "/analytics/funnel/advocates", **NOVEMBER)
    assert funnel["total"] == 3
    rows = [
        (
            a["advocate_id"],
            a["code"],
            a["clicks"],
            a["unique_clicks"],
            a["signups"],
            a["first_orders"],
            a["qualified"],
        )
        for a in funnel["advocates"]
    ]
    assert rows == [
        ("ben", november["ben"], 2, 2, 2, 2, 1),  # tied with Anna on qualified and sign-ups: more clicks
        ("anna", november["anna"], 1, 1, 2, 1, 1),
        ("cara", november["cara"], 0, 0, 1, 1, 0),
    ]
    board = await get(client, "/analytics/leaderboard", **NOVEMBER, limit=2)
    assert board["limit"] == 2
    assert [(e["rank"], e["advocate_id"], e["referred_revenue"]) for e in board["entries"]] == [
        (1, "ben", {"EUR": "25.00"}),  # Cara's 30 refunded in full, and Gus's 25
        (2, "anna", {"EUR": "45.00", "USD": "12.50"}),
    ]
    full = await get(client, "/analytics/leaderboard", **NOVEMBER)
    assert [(e["code"], e["referred_revenue"]) for e in full["entries"]][2] == (
        november["cara"],
        {"EUR": "10.00"},
    )


EXTERNAL = re.compile(
    r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import""", re.I
)


async def test_the_page_shows_charts_and_the_leaderboard_offline(
    client: AsyncClient, november: dict[str, str]
) -> None:
    response = await client.get("/analytics", params=NOVEMBER, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert page.count("<svg") == 3  # daily funnel, chain depth, reasons
    for code in (november["anna"], november["ben"], november["cara"]):
        assert f">{code}<" in page
    assert "below_minimum_order" in page and "order_fully_refunded" in page
    assert "0.8333" in page and "€80.00" in page and "$12.50" in page  # as English writes them
    # nothing is fetched: no script at all, no link, no external reference of any kind; the only
    # URLs are the SVG namespace names, which browsers never fetch
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not EXTERNAL.search(page)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}


async def test_the_page_escapes_what_it_shows(referrals: Service, client: AsyncClient) -> None:
    now = utcnow()
    async with referrals.db.transaction() as session:
        session.add(ReferralCode(code="X", customer_id="<b>mallory</b>", issued_at=now))
        session.add(
            Click(
                id="c1",
                code="X",
                advocate_id="<b>mallory</b>",
                visitor_hash="v",
                clicked_at=now,
                counted_hour=now.replace(minute=0, second=0, microsecond=0),
                channel=None,
            )
        )
    page = (await client.get("/analytics", headers=AUTH)).text
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page and "<b>mallory</b>" not in page
