"""Channels and unsubscribe: a real SMTP server checks the headers of what is sent, a real HTTP
receiver checks the webhook's signature, and the unsubscribe pages run in the service's own app
with a fake unit of work and callback."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from outreach.app import create_app
from outreach.channels import (
    ChannelError,
    EmailChannel,
    Outgoing,
    WebhookChannel,
    channels_for,
    webhook_body,
)
from outreach.settings import OutreachSettings
from outreach.templates import Rendered
from outreach.unsubscribe import (
    CONTENT_SECURITY_POLICY,
    customer_of_token,
    unsubscribe_token,
    unsubscribe_url,
)
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wom_chassis import current_service, provide
from wom_chassis.mail import MailPool
from wom_testkit import CHROMIUM, chromium_page, free_port, serving

SECRET = "unsubscribe-secret-for-tests"
HOOK_SECRET = "webhook-secret-shared-with-the-sms-provider"
EMAIL = "ana.popescu@example.com"
PUBLIC_URL = "https://outreach.shop.example.com/wom-outreach"


def settings(**overrides: Any) -> OutreachSettings:
    values: dict[str, Any] = {
        "database_url": "sqlite+aiosqlite:///:memory:",
        "outreach_public_url": PUBLIC_URL,
        "outreach_unsubscribe_secret": SecretStr(SECRET),
        "smtp_timeout_seconds": 5.0,
    }
    return OutreachSettings(**(values | overrides))


def outgoing(
    message_class: str = "marketing", *, unsubscribe: str | None = None, **overrides: Any
) -> Outgoing:
    rendered = Rendered(
        locale="ro",
        subject="Invită un prieten și primiți amândoi 10 lei",
        text="Salut Ana,\nlinkul tău: https://shop.example.com/r/ANA10\n",
        html="<p>Salut <b>Ana</b>,</p><p><a href='https://shop.example.com/r/ANA10'>linkul tău</a></p>",
    )
    values: dict[str, Any] = {
        "message_id": "msg_01HZX3",
        "kind": "referral_ask",
        "message_class": message_class,
        "customer_id": "cus_42",
        "recipient": EMAIL,
        "locale": "ro-MD",
        "rendered": rendered,
        "unsubscribe_url": unsubscribe,
    }
    return Outgoing(**(values | overrides))


# --- email over a real SMTP server ---------------------------------------------------------------


@dataclass
class RawInbox:
    """An SMTP server that keeps the bytes of each mail, to see headers exactly as sent."""

    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        return "250 OK"

    def mail(self, index: int = -1) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw[index], policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def raw_header(self, name: str, index: int = -1) -> str | None:
        """The header's line(s) as they went over the wire, unfolded but not decoded."""
        head = self.raw[index].split(b"\r\n\r\n", 1)[0].decode()
        unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
        for line in unfolded.split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None


async def send_email(config: OutreachSettings, out: Outgoing) -> None:
    """`out` through the email channel, over a pool of its own."""
    async with MailPool(config) as pool:
        await EmailChannel(config, pool).send(out)


@pytest.fixture
def inbox() -> Iterator[tuple[RawInbox, int]]:
    handler, port = RawInbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


async def test_marketing_email_has_one_click_unsubscribe_headers(inbox: tuple[RawInbox, int]) -> None:
    received, port = inbox
    config = settings(smtp_port=port)
    url = unsubscribe_url(config, "cus_42")
    assert len(f"List-Unsubscribe: <{url}>") > 78  # long enough that standard folding would mangle it

    await send_email(config, outgoing(unsubscribe=url))

    mail = received.mail()
    assert received.raw_header("List-Unsubscribe") == f"<{url}>"  # verbatim: no RFC 2047 encoded words
    assert mail["List-Unsubscribe"] == f"<{url}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Content-Language"] == "ro"
    assert mail["To"] == EMAIL
    assert mail["From"] == config.mail_from
    assert mail["Subject"] == "Invită un prieten și primiți amândoi 10 lei"
    assert mail["X-Wom-Message-Id"] == "msg_01HZX3"
    assert mail["X-Wom-Kind"] == "referral_ask"
    assert "msg_01HZX3" in mail["Message-ID"] and mail["Message-ID"].endswith("@wom.localhost>")
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "linkul tău" in parts["text/plain"] and "<b>Ana</b>" in parts["text/html"]
    assert customer_of_token(SECRET, url.rsplit("/", 1)[1]) == "cus_42"


async def test_transactional_email_has_no_unsubscribe_headers(inbox: tuple[RawInbox, int]) -> None:
    received, port = inbox
    config = settings(smtp_port=port)

    await send_email(config, outgoing("transactional", unsubscribe=unsubscribe_url(config, "cus_42")))
    await send_email(config, outgoing("marketing", unsubscribe=None))

    for index in (0, 1):
        mail = received.mail(index)
        assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None
        assert mail["Content-Language"] == "ro"
        assert {p.get_content_type() for p in mail.iter_parts()} == {"text/plain", "text/html"}


async def test_email_failures_raise(inbox: tuple[RawInbox, int]) -> None:
    received, port = inbox
    with pytest.raises(ChannelError, match="no email address"):
        await send_email(settings(smtp_port=port), outgoing(recipient=None))
    with pytest.raises(ChannelError, match="not a plain http"):
        await send_email(
            settings(smtp_port=port),
            outgoing(unsubscribe="https://x.example/u/a>\r\nBcc: victim@example.com"),
        )
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        await send_email(settings(smtp_port=free_port()), outgoing())
    assert received.raw == []


# --- webhook over a real HTTP receiver ------------------------------------------------------------


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: float = 300) -> bool:
    """What a provider does with a wom webhook: recompute the signature over `<timestamp>.<body>`."""
    timestamp = headers.get("x-wom-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={digest}", headers.get("x-wom-signature", ""))


@dataclass
class Receiver:
    """Checks each signature with the shared secret (401 when wrong), else answers `status`."""

    status: int = 202
    requests: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = verify(HOOK_SECRET, headers, body)
        self.requests.append((headers, body, verified))
        return Response("nope" if not verified else "", status_code=self.status if verified else 401)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/hook/t0ken", receiver.hook, methods=["POST"])])
    async with serving(app) as base:
        yield f"{base}/hook/t0ken"


def hook_settings(url: str | None, secret: str | None = HOOK_SECRET, **overrides: Any) -> OutreachSettings:
    return settings(
        outreach_webhook_url=url,
        outreach_webhook_secret=SecretStr(secret) if secret is not None else None,
        **overrides,
    )


async def test_webhook_is_signed_and_carries_no_email() -> None:
    receiver = Receiver()
    async with receiving(receiver) as url:
        await WebhookChannel(hook_settings(url)).send(outgoing(unsubscribe="https://u.example/unsubscribe/x"))

    [(headers, body, verified)] = receiver.requests
    assert verified
    assert headers["content-type"] == "application/json"
    assert headers["x-wom-event"] == "outreach.message"
    assert headers["x-wom-delivery"] == "msg_01HZX3"
    assert body == webhook_body(outgoing())  # compact, sorted keys
    payload = json.loads(body)
    assert payload == {
        "message_id": "msg_01HZX3",
        "kind": "referral_ask",
        "class": "marketing",
        "customer_id": "cus_42",
        "locale": "ro",
        "subject": "Invită un prieten și primiți amândoi 10 lei",
        "text": "Salut Ana,\nlinkul tău: https://shop.example.com/r/ANA10\n",
    }
    assert list(payload) == sorted(payload) and b", " not in body and b'": ' not in body
    assert EMAIL.encode() not in body and b"@" not in body
    assert not verify("another-secret", headers, body)


async def test_webhook_non_2xx_and_misconfiguration_raise() -> None:
    receiver = Receiver(status=503)
    async with receiving(receiver) as url:
        with pytest.raises(ChannelError, match="HTTP 503"):
            await WebhookChannel(hook_settings(url)).send(outgoing())
        with pytest.raises(ChannelError, match="HTTP 401") as wrong_secret:
            await WebhookChannel(hook_settings(url, secret="not-the-shared-one")).send(outgoing())
        assert "t0ken" not in str(wrong_secret.value)  # errors name the host, not the URL's path
    assert [verified for _, _, verified in receiver.requests] == [True, False]

    with pytest.raises(ChannelError, match="OUTREACH_WEBHOOK_URL"):
        await WebhookChannel(hook_settings(None)).send(outgoing())
    with pytest.raises(ChannelError, match="OUTREACH_WEBHOOK_SECRET"):
        await WebhookChannel(hook_settings("http://127.0.0.1:9/hook", secret=None)).send(outgoing())
    with pytest.raises(ChannelError, match="ConnectError"):
        await WebhookChannel(hook_settings(f"http://127.0.0.1:{free_port()}/hook")).send(outgoing())


def test_channels_for() -> None:
    kinds = ["thank_you", "birthday"]
    assert channels_for("birthday", settings()) == ["email"]
    assert channels_for("birthday", hook_settings(None, outreach_webhook_kinds=kinds)) == ["email"]
    configured = hook_settings("https://sms.example.com/hook", outreach_webhook_kinds=kinds)
    assert channels_for("birthday", configured) == ["email", "webhook"]
    assert channels_for("referral_invite", configured) == ["email"]


# --- unsubscribe tokens ---------------------------------------------------------------------------


def test_token_round_trip_and_tampering() -> None:
    for customer_id in ("cus_42", "a", "x" * 64, "shop:eu.customer-0001_A"):
        token = unsubscribe_token(SECRET, customer_id)
        assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()  # URL-safe
        assert customer_of_token(SECRET, token) == customer_id
        assert customer_of_token("another secret", token) is None

    token = unsubscribe_token(SECRET, "cus_42")
    for index, char in enumerate(token):
        if char == ".":
            continue
        for other in {"A", "B", "w", "-"} - {char}:
            tampered = token[:index] + other + token[index + 1 :]
            assert customer_of_token(SECRET, tampered) is None, tampered

    # the last base64 character of the signature has 2 spare bits: another spelling, same bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    decode = lambda t: base64.urlsafe_b64decode(t.split(".")[1] + "=")  # noqa: E731
    assert decode(respelled) == decode(token) and respelled != token
    assert customer_of_token(SECRET, respelled) is None  # one spelling per customer and key

    forged_id = unsubscribe_token(SECRET, "cus_43").split(".")[0]
    assert customer_of_token(SECRET, f"{forged_id}.{token.split('.')[1]}") is None
    for garbage in ("", ".", token + ".", token + "=", token[:-1], "a.b", "../etc", "x" * 5000, f" {token}"):
        assert customer_of_token(SECRET, garbage) is None
    with pytest.raises(ValueError):
        unsubscribe_token(SECRET, "has a space")
    with pytest.raises(ValueError):
        unsubscribe_token("", "cus_42")


def test_unsubscribe_url() -> None:
    url = unsubscribe_url(settings(outreach_public_url=PUBLIC_URL + "/"), "cus_42")
    assert url == f"{PUBLIC_URL}/unsubscribe/{unsubscribe_token(SECRET, 'cus_42')}"


# --- unsubscribe pages ----------------------------------------------------------------------------


@dataclass
class FakeService:
    """Opens a stand-in unit of work and records how many were committed."""

    committed: int = 0

    @asynccontextmanager
    async def work(self) -> AsyncIterator[Any]:
        yield "the-unit-of-work"
        self.committed += 1


@dataclass
class Unsubscriber:
    known: bool = True
    fail: bool = False
    calls: list[tuple[Any, str]] = field(default_factory=list)

    async def __call__(self, uow: Any, customer_id: str) -> bool:
        self.calls.append((uow, customer_id))
        if self.fail:
            raise RuntimeError("database is locked")
        return self.known


def unsubscribe_app(callback: Unsubscriber, service: FakeService) -> FastAPI:
    """The outreach app, its unit of work and unsubscribe callback replaced by the fakes."""
    app = create_app(settings()).http
    app.dependency_overrides[current_service] = lambda: service
    provide(app, on_unsubscribe=callback)
    return app


@asynccontextmanager
async def pages(
    callback: Unsubscriber, service: FakeService | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=unsubscribe_app(callback, service or FakeService()))
    async with httpx.AsyncClient(transport=transport, base_url="http://outreach") as client:
        yield client


def assert_safe_page(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_get_shows_a_form_and_changes_nothing() -> None:
    callback = Unsubscriber()
    async with pages(callback) as client:
        response = await client.get(f"/unsubscribe/{unsubscribe_token(SECRET, 'cus_42')}")
    assert response.status_code == 200
    assert_safe_page(response)
    assert '<form method="post">' in response.text and 'type="submit"' in response.text
    assert 'lang="ru"' in response.text and 'lang="ro"' in response.text and 'lang="sv"' in response.text
    assert callback.calls == []


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}")
async def test_the_unsubscribe_page_works_in_chromium_under_its_own_policy() -> None:
    """A person following the link in a browser: the page and its button work under the page's
    Content-Security-Policy (nothing refused, nothing fetched), and one click unsubscribes."""
    callback, service = Unsubscriber(), FakeService()
    problems: list[str] = []
    async with serving(unsubscribe_app(callback, service)) as url, chromium_page() as page:
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on(
            "request", lambda request: None if request.url.startswith(url) else problems.append(request.url)
        )
        response = await page.goto(f"{url}/unsubscribe/{unsubscribe_token(SECRET, 'cus_42')}")
        assert response is not None and response.status == 200
        await page.click('button[type="submit"], input[type="submit"]')
        await page.wait_for_selector("text=You are unsubscribed")
    assert problems == []
    assert callback.calls == [("the-unit-of-work", "cus_42")]


async def test_one_click_post_unsubscribes_once() -> None:
    callback, service = Unsubscriber(), FakeService()
    token = unsubscribe_token(SECRET, "cus_42")
    async with pages(callback, service) as client:
        response = await client.post(
            f"/unsubscribe/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    assert_safe_page(response)
    assert "You are unsubscribed" in response.text and "<form" not in response.text
    assert callback.calls == [("the-unit-of-work", "cus_42")]
    assert service.committed == 1


async def test_other_posts_unsubscribe_too_and_hide_unknown_contacts() -> None:
    callback = Unsubscriber(known=False)
    token = unsubscribe_token(SECRET, "cus_gone")
    async with pages(callback) as client:
        multipart = await client.post(
            f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")}
        )
        empty = await client.post(f"/unsubscribe/{token}")
    assert multipart.status_code == empty.status_code == 200
    assert "You are unsubscribed" in empty.text
    assert [customer for _, customer in callback.calls] == ["cus_gone", "cus_gone"]


async def test_bad_tokens_get_a_404_page() -> None:
    callback = Unsubscriber()
    good = unsubscribe_token(SECRET, "cus_42")
    foreign = unsubscribe_token("someone else's secret", "cus_42")
    async with pages(callback) as client:
        for token in (good[:-2] + "xx", foreign, "not-a-token", "%3Cscript%3E", "a" * 3000):
            for method in ("GET", "POST"):
                response = await client.request(method, f"/unsubscribe/{token}")
                assert response.status_code == 404, (method, token)
                assert_safe_page(response)
                assert "not valid" in response.text and "<script>" not in response.text
    assert callback.calls == []


async def test_a_failing_callback_answers_503_not_an_exception() -> None:
    callback, service = Unsubscriber(fail=True), FakeService()
    async with pages(callback, service) as client:
        response = await client.post(f"/unsubscribe/{unsubscribe_token(SECRET, 'cus_42')}")
    assert response.status_code == 503
    assert_safe_page(response)
    assert "try again" in response.text
    assert len(callback.calls) == 1 and service.committed == 0
