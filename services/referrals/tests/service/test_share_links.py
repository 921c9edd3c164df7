"""Share links: a click is recorded (hashed) and sent to the storefront; the API hands out a
share URL per channel with the invitation in the customer's language."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from httpx import ASGITransport, AsyncClient
from referrals.models import Click
from sqlalchemy import select
from wom_chassis import Service

from ..conftest import AUTH, PUBLIC_URL
from ..support import code_of, publish, registered


def client(service: Service, **headers: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=service.http), base_url="http://test", headers=headers)


async def clicks(service: Service) -> list[Click]:
    async with service.db.session() as session:
        return list((await session.scalars(select(Click))).all())


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


async def test_an_unknown_code_redirects_without_a_code(referrals: Service) -> None:
    async with client(referrals) as http:
        answer = await http.get("/r/NOBODY-2222")
    assert answer.status_code == 302
    assert answer.headers["location"] == "https://shop.example.com/welcome?lang=en"
    assert await clicks(referrals) == []


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
