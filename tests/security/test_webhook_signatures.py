"""Signed webhooks, checked as a receiver would from the documented scheme alone:
`X-Wom-Timestamp: <unix seconds>` and `X-Wom-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<raw body>">` with the shared secret, at most 5 minutes old.

Both outgoing webhooks (feedback's escalations to a support team, outreach's message channel) are
delivered over real HTTP to a receiver here; the signature is recomputed with `hmac` in this file,
not with wom's own verifier. A changed body, a wrong secret, a moved timestamp and a stale one must
not verify, both here and with `wom_chassis.signatures.signature_is_valid`, which feedback's own
intake uses: a correctly signed but stale survey answer is refused there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from feedback.app import create_app as create_feedback
from feedback.deliveries import deliver_due
from feedback.rules import load_rules
from feedback.settings import FeedbackSettings
from outreach.channels import Outgoing, WebhookChannel
from outreach.settings import OutreachSettings
from outreach.templates import Rendered
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wom_chassis.signatures import signature_is_valid
from wom_contracts import ResponseSubmittedV1
from wom_testkit import in_memory_service, publish_event, serving

SECRET = "the-secret-shared-with-the-receiver"
SECRET_ENV = "WOM_SECURITY_TEST_WEBHOOK_SECRET"
TOLERANCE = 300  # seconds, "at most 5 minutes old" (services/feedback/README.md)


def documented_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The scheme as the READMEs describe it, written out here."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def receiver_accepts(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> bool:
    """What a careful receiver does: a fresh timestamp, and the signature over it and the body."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE:
        return False
    return hmac.compare_digest(signature.encode(), documented_signature(secret, timestamp, body).encode())


@dataclass
class Received:
    timestamp: str
    signature: str
    body: bytes
    at: float


@dataclass
class Receiver:
    requests: list[Received] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        self.requests.append(
            Received(
                request.headers.get("x-wom-timestamp", ""),
                request.headers.get("x-wom-signature", ""),
                await request.body(),
                time.time(),
            )
        )
        return Response(status_code=204)


@asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    async with serving(Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])) as base:
        yield receiver, f"{base}/hook"


async def feedback_escalation(url: str, directory: Path) -> None:
    """A detractor's answer opens a case; its queue's team gets the case by webhook."""
    rules_file = directory / "rules.yaml"
    rules_file.write_text(
        f"queues:\n  - name: support\n    webhook: {{url: '{url}', secret_env: {SECRET_ENV}}}\n",
        encoding="utf-8",
    )
    settings = FeedbackSettings(
        database_url=f"sqlite+aiosqlite:///{directory / 'feedback.db'}",
        api_token="t",
        feedback_rules_file=rules_file,
    )
    async with in_memory_service(create_feedback(settings)) as service:
        answer = ResponseSubmittedV1(
            customer_id="ana", response_id="r-1", kind="nps", score=0, submitted_at=datetime.now(UTC)
        )
        await publish_event(service.broker, answer)
        assert await deliver_due(service, rules=load_rules(rules_file), settings=settings) == 1


async def outreach_message(url: str, directory: Path) -> None:
    """A message of a webhook kind goes to the SMS provider's relay."""
    settings = OutreachSettings(
        database_url=f"sqlite+aiosqlite:///{directory / 'outreach.db'}",
        outreach_webhook_url=url,
        outreach_webhook_secret=SecretStr(SECRET),
    )
    rendered = Rendered("sv", "Tack för ditt köp", "Hej Anna, tack!", "<p>Hej Anna, tack!</p>")
    out = Outgoing("m-1", "purchase_thank_you", "transactional", "ana", "ana@example.com", "sv", rendered)
    await WebhookChannel(settings).send(out)


@pytest.mark.parametrize("send", [feedback_escalation, outreach_message], ids=["feedback", "outreach"])
async def test_a_delivered_webhook_verifies_and_nothing_altered_does(
    send: Callable[[str, Path], Awaitable[None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    async with receiving() as (receiver, url):
        await send(url, tmp_path)
    [got] = receiver.requests
    ts, sig, body, now = got.timestamp, got.signature, got.body, got.at
    assert json.loads(body), "the body is the JSON the receiver acts on"
    assert ts.isdigit() and abs(now - int(ts)) <= 5, f"signed when sent, not earlier: {ts} vs {now:.0f}"

    genuine = receiver_accepts(SECRET, ts, sig, body, now)
    tampered_body = body.replace(b'"ana"', b'"bob"')
    assert tampered_body != body
    stale = str(int(ts) - TOLERANCE - 1)
    cases = {
        "a changed body": (SECRET, ts, sig, tampered_body, now),
        "one byte more": (SECRET, ts, sig, body + b" ", now),
        "a wrong secret": ("not-the-secret", ts, sig, body, now),
        "the timestamp moved by a second": (SECRET, str(int(ts) + 1), sig, body, now),
        "replayed 5 minutes later": (SECRET, ts, sig, body, now + TOLERANCE + 1),
        "a stale timestamp re-signed": (SECRET, stale, documented_signature(SECRET, stale, body), body, now),
        "no signature": (SECRET, ts, "", body, now),
    }
    assert genuine, "the delivered signature does not match the documented scheme"
    assert signature_is_valid(SECRET, ts, sig, body, now=now), "wom's verifier rejects a genuine webhook"
    accepted = {
        what: (receiver_accepts(*args), signature_is_valid(args[0], args[1], args[2], args[3], now=args[4]))
        for what, args in cases.items()
    }
    assert accepted == {what: (False, False) for what in cases}, accepted


async def test_the_intake_refuses_a_correctly_signed_answer_that_is_stale(tmp_path: Path) -> None:
    """Replay protection where wom receives signed requests: the survey intake."""
    settings = FeedbackSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}",
        api_token="t",
        feedback_intake_secret=SECRET,
    )
    body = json.dumps(
        {"customer_id": "ana", "response_id": "r-9", "kind": "nps", "score": 9,
         "submitted_at": datetime.now(UTC).isoformat()}
    ).encode()  # fmt: skip
    async with in_memory_service(create_feedback(settings)) as service:
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as http:

            async def post(timestamp: int, secret: str = SECRET) -> int:
                ts = str(timestamp)
                headers = {"X-Wom-Timestamp": ts, "X-Wom-Signature": documented_signature(secret, ts, body)}
                return (await http.post("/responses", content=body, headers=headers)).status_code

            now = int(time.time())
            assert await post(now - TOLERANCE - 5) == 401  # stale: a replay
            assert await post(now + TOLERANCE + 5) == 401  # from the future
            assert await post(now, secret="not-the-secret") == 401
            assert await post(now) == 202
