"""Share links: a click is recorded (hashed) and sent to the storefront; the API hands out a
share URL per channel with the invitation in the customer's language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from httpx import ASGITransport, AsyncClient
from referrals.models import Click, ShareLinkVisitor, UnknownCodeVisits
from referrals.share_links import forget_stale_visitors
from sqlalchemy import event, select
from wom_chassis import Service

from ..conftest import AUTH, PUBLIC_URL, ReferralsFactory
from ..support import code_of, publish, registered


def client(service: Service, **headers: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=service.http), base_url="http://test", headers=headers)


async def clicks(service: Service) -> list[Click]:
    async with service.db.session() as session:
        return list((await session.scalars(select(Click))).all())


async def earlier(service: Service, model: Any, column: str, by: timedelta) -> None:
    """Move `column` of every row of `model` back by `by`: time passing, as the rows see it."""
    async with service.db.transaction() as session:
        for row in (await session.scalars(select(model))).all():
            setattr(row, column, getattr(row, column) - by)


async def test_a_click_is_recorded_without_personal_data_and_redirected(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"))
    code = await code_of(referrals, "anna")
    async with client(referrals, **{"user-agent": "Mozilla/5.0 (test)"}) as http:
        answer = await http.get(f"/r/{code.lower()}?via=whatsapp")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["location"])
    assert (target.netloc, target.path) == ("shop.example.com", "/welcome")
    assert parse_qs(target.query) == {"lang": ["en"], "ref": [code]}
    [click] = await clicks(referrals)
    assert (click.code, click.advocate_id, click.channel) == (code, "anna", "whatsapp")
    assert "127.0.0.1" not in click.visitor_hash and "Mozilla" not in click.visitor_hash
    assert len(click.visitor_hash) == 64


async def test_an_unknown_code_is_answered_like_a_known_one(referrals: Service) -> None:
    """Same status, same headers, same redirect but for the code, and the same statements (so the
    same time class): from outside, a code nobody holds cannot be told from one somebody does."""
    await publish(referrals, registered("anna", first_name="Anna"))
    known = await code_of(referrals, "anna")
    unknown = f"{known.split('-')[0]}-2222"
    seen: list[str] = []
    event.listen(
        referrals.db.engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0])
    )
    answers, statements = {}, {}
    async with client(referrals, **{"user-agent": "Mozilla/5.0 (test)"}) as http:
        for name, code in (("known", known), ("unknown", unknown)):
            seen.clear()
            answers[name] = await http.get(f"/r/{code}")
            statements[name] = list(seen)
    assert answers["known"].status_code == answers["unknown"].status_code == 302
    assert answers["known"].content == answers["unknown"].content
    assert set(answers["known"].headers) == set(answers["unknown"].headers)
    shapes = {name: urlsplit(a.headers["location"]) for name, a in answers.items()}
    assert parse_qs(shapes["known"].query) == {"lang": ["en"], "ref": [known]}
    assert parse_qs(shapes["unknown"].query) == {"lang": ["en"], "ref": [unknown]}
    assert shapes["known"]._replace(query="") == shapes["unknown"]._replace(query="")
    assert statements["known"] == statements["unknown"] and len(statements["known"]) >= 3
    assert [c.code for c in await clicks(referrals)] == [known]
    async with referrals.db.session() as session:
        assert (await session.scalars(select(UnknownCodeVisits.visits))).all() == [1]


async def test_one_click_is_counted_per_code_visitor_and_hour(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"))
    code = await code_of(referrals, "anna")
    async with client(referrals, **{"user-agent": "Mozilla/5.0 (test)"}) as http:
        for _ in range(5):  # a reload, or a script repeating itself
            assert (await http.get(f"/r/{code}")).status_code == 302
        await http.get(f"/r/{code}", headers={"user-agent": "another browser"})  # another visitor
    assert len(await clicks(referrals)) == 2
    await earlier(referrals, Click, "counted_hour", timedelta(hours=1))  # an hour later, the first again
    async with client(referrals, **{"user-agent": "Mozilla/5.0 (test)"}) as http:
        await http.get(f"/r/{code}")
    assert len(await clicks(referrals)) == 3


async def test_an_address_over_its_limit_waits_for_the_next_minute(make_referrals: ReferralsFactory) -> None:
    async with make_referrals(referrals_share_link_visits_per_minute=3) as referrals:
        await publish(referrals, registered("anna", first_name="Anna"))
        code = await code_of(referrals, "anna")
        async with client(referrals) as http:
            # known and unknown codes, and every user agent, count against the address
            for path, agent in ((f"/r/{code}", "a"), ("/r/NOBODY-2222", "b"), (f"/r/{code}", "c")):
                assert (await http.get(path, headers={"user-agent": agent})).status_code == 302
            refused = await http.get(f"/r/{code}", headers={"user-agent": "d"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert len(await clicks(referrals)) == 2  # the refused visit counted as no click
        other = AsyncClient(
            transport=ASGITransport(app=referrals.http, client=("203.0.113.9", 4711)), base_url="http://test"
        )
        async with other:  # another address has its own count
            assert (await other.get(f"/r/{code}")).status_code == 302
        await earlier(referrals, ShareLinkVisitor, "window_start", timedelta(minutes=1))  # a minute on
        async with client(referrals) as http:
            assert (await http.get(f"/r/{code}")).status_code == 302
        await earlier(referrals, ShareLinkVisitor, "window_start", timedelta(minutes=5))  # the sweep
        assert await forget_stale_visitors(referrals) == 2


@pytest.mark.parametrize(
    ("locale", "language", "phrase"),
    [
        ("en", "en", "welcome gift"),
        ("ru", "ru", "подарок к первому заказу"),
        ("ro-MD", "ro", "cadou de bun venit"),
        ("sv-SE", "sv", "välkomstgåva"),
        ("de", "en", "welcome gift"),
    ],
)
async def test_share_urls_per_channel_in_the_customers_language(
    referrals: Service, locale: str, language: str, phrase: str
) -> None:
    await publish(referrals, registered("anna", first_name="Анна", locale=locale))
    code = await code_of(referrals, "anna")
    assert code.startswith("ANNA-")
    async with client(referrals, **AUTH) as http:
        view = (await http.get("/customers/anna/code")).json()
    link = f"{PUBLIC_URL}/r/{code}"
    assert view["share_url"] == link
    assert view["message"]["locale"] == language and phrase in view["message"]["text"]
    assert link in view["message"]["text"]
    channels = view["channels"]
    assert set(channels) == {"email", "whatsapp", "telegram", "facebook", "x", "sms"}
    for channel, url in channels.items():
        assert f"{link}?via={channel}" in unquote(url), channel
    assert channels["whatsapp"].startswith("https://wa.me/?text=")
    assert phrase in unquote(channels["whatsapp"])
    assert channels["email"].startswith("mailto:?subject=")


async def test_the_code_api_needs_the_token_and_knows_its_customers(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"))
    async with client(referrals) as http:
        assert (await http.get("/customers/anna/code")).status_code == 401
    async with client(referrals, Authorization="Basic " + "b3BlcmF0b3I6c2VjcmV0LXRva2Vu") as http:
        assert (await http.get("/customers/anna/code")).status_code == 200  # operator:secret-token
    async with client(referrals, **AUTH) as http:
        assert (await http.get("/customers/nobody/code")).status_code == 404
        assert (await http.get("/customers/bad id!/code")).status_code == 422
