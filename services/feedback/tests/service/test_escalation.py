"""Escalation delivery: a case tells its queue's team through a signed webhook (retried with
backoff, logged, dead-lettered after the last attempt) and an email, without personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka.annotations import KafkaMessage
from feedback.app import create_app
from feedback.cases import mark_breaches
from feedback.deliveries import Delivery, deliver_due
from feedback.rules import Rules, load_rules
from feedback.settings import FeedbackSettings
from pydantic import SecretStr
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wom_chassis import Service, utcnow
from wom_chassis.tracing import continue_trace
from wom_testkit import (
    MailInbox,
    database_backends,
    dead_letters,
    empty_database_url,
    in_memory_service,
    serving,
)

from ..conftest import seed_case

SECRET_ENV = "WOM_TEST_ESCALATION_SECRET"
SECRET = "s3cret-shared-with-the-support-tool"
TOKEN = "escalation-test-token"
COMMENT = "Coletul a ajuns deteriorat si nimeni nu raspunde"
TEAM = "key-clients@support.example.com"
ATTEMPTS = 3


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: float = 300) -> bool:
    """What a support tool does with a wom webhook: recompute the signature over
    `<timestamp>.<body>` with the shared secret and reject stale timestamps."""
    timestamp = headers.get("x-wom-timestamp", "")
    given = headers.get("x-wom-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={digest}", given)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A real webhook receiver: checks every signature (401 when wrong), then answers the
    statuses of `script` in turn and `then` once the script is used up."""

    script: list[int] = field(default_factory=list)
    then: int = 200
    requests: list[Received] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = verify(SECRET, headers, body)
        self.requests.append(Received(headers, body, verified))
        if not verified:
            return Response("bad signature", status_code=401)
        return Response(status_code=self.script.pop(0) if self.script else self.then)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    async with serving(app) as base:
        yield f"{base}/hook"


@dataclass
class Harness:
    service: Service
    rules: Rules
    settings: FeedbackSettings
    receiver: Receiver
    inbox: MailInbox

    async def deliver(self, now: datetime) -> int:
        return await deliver_due(self.service, rules=self.rules, settings=self.settings, now=now)

    async def deliveries(self, case_id: str) -> dict[str, Delivery]:
        async with self.service.db.session() as session:
            rows = (await session.scalars(select(Delivery).where(Delivery.case_id == case_id))).all()
        return {row.channel: row for row in rows}

    async def api(self, path: str) -> Any:
        transport = httpx.ASGITransport(app=self.service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            response = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        return response.json()


RULES = """
queues:
  - name: key-clients
    when: {{key_client: true}}
    webhook: {{url: "{url}", secret_env: {env}}}
    email: {team}
  - name: support
    email: support@support.example.com
escalation:
  webhook_attempts: {attempts}
  backoff_seconds: 0.01
  max_backoff_seconds: 0.02
  timeout_seconds: 5
"""


@pytest.fixture(params=database_backends())
async def escalation(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver, inbox = Receiver(), MailInbox()
    inbox.controller.start()
    try:
        async with receiving(receiver) as url:
            rules_file = tmp_path / "rules.yaml"
            rules_file.write_text(RULES.format(url=url, env=SECRET_ENV, team=TEAM, attempts=ATTEMPTS))
            settings = FeedbackSettings(
                database_url=await empty_database_url(request.param, tmp_path),
                feedback_rules_file=rules_file,
                smtp_host="127.0.0.1",
                smtp_port=inbox.controller.port,
                api_token=SecretStr(TOKEN),
            )
            async with in_memory_service(create_app(settings)) as service:
                yield Harness(service, load_rules(rules_file), settings, receiver, inbox)
    finally:
        inbox.controller.stop()


async def open_case(h: Harness, *, key_client: bool = True, customer: str = "ana") -> str:
    return await seed_case(
        h.service,
        customer,
        rules=h.rules,
        sla_due_at=datetime(2031, 5, 6, 7, 8, tzinfo=UTC),
        priority="P1" if key_client else "P2",
        queue="key-clients" if key_client else "support",
        key_client=key_client,
        score=1,
        comment=COMMENT,
        locale="ro",
        signals=("damaged",),
    )


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


async def test_a_failing_webhook_is_retried_with_backoff_until_delivered(escalation: Harness) -> None:
    h = escalation
    h.receiver.script = [500, 503]
    case_id = await open_case(h)

    t0 = later(1)
    assert await h.deliver(t0) == 2  # the webhook and the email
    log = await h.deliveries(case_id)
    hook = log["webhook"]
    assert (hook.status, hook.attempts, hook.last_status_code) == ("pending", 1, 500)
    assert hook.last_error is not None and "HTTP 500" in hook.last_error
    assert hook.next_attempt_at == t0 + timedelta(seconds=0.01)
    assert (log["email"].status, log["email"].attempts) == ("delivered", 1)
    assert await h.deliver(t0) == 0  # not again before its backoff

    t1 = t0 + timedelta(seconds=1)
    assert await h.deliver(t1) == 1
    hook = (await h.deliveries(case_id))["webhook"]
    assert (hook.status, hook.attempts, hook.last_status_code) == ("pending", 2, 503)
    assert hook.next_attempt_at == t1 + timedelta(seconds=0.02)  # doubled

    t2 = t1 + timedelta(seconds=1)
    assert await h.deliver(t2) == 1
    assert await h.deliver(t2 + timedelta(hours=1)) == 0  # delivered: never sent again
    hook = (await h.deliveries(case_id))["webhook"]
    assert (hook.status, hook.attempts, hook.last_status_code, hook.last_error) == ("delivered", 3, 200, None)
    assert hook.delivered_at is not None

    assert len(h.receiver.requests) == 3
    assert all(r.verified for r in h.receiver.requests)
    first = h.receiver.requests[0]
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-wom-event"] == "case.opened"
    assert {r.headers["x-wom-delivery"] for r in h.receiver.requests} == {hook.id}
    sent = json.loads(first.body)
    assert sent == hook.payload
    assert (sent["case_id"], sent["customer_id"], sent["what"]) == (case_id, "ana", "opened")
    assert (sent["priority"], sent["queue"], sent["key_client"], sent["signals"]) == (
        "P1", "key-clients", True, ["damaged"],
    )  # fmt: skip

    logged = await h.api(f"/cases/{case_id}/deliveries")
    assert sorted((d["channel"], d["status"], d["attempts"]) for d in logged) == [
        ("email", "delivered", 1),
        ("webhook", "delivered", 3),
    ]


async def test_a_webhook_that_never_succeeds_ends_dead_on_the_dead_letter_topic(escalation: Harness) -> None:
    h = escalation
    h.receiver.then = 500
    letters: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []

    @h.service.broker.subscriber("feedback.dlq")
    async def keep(message: KafkaMessage) -> None:
        raw: Any = message.raw_message  # one record: the subscriber does not batch
        letters.append((raw.key, raw.value, dict(raw.headers)))

    await h.service.broker.start()
    before = dead_letters("feedback", "escalation_delivery_failed")
    case_id = await open_case(h)

    now = later(1)
    for attempt in range(1, ATTEMPTS + 1):
        assert await h.deliver(now) >= 1
        hook = (await h.deliveries(case_id))["webhook"]
        assert hook.attempts == attempt
        now += timedelta(seconds=1)
    assert (hook.status, hook.last_status_code) == ("dead", 500)
    assert await h.deliver(now + timedelta(hours=1)) == 0  # dead: no further attempts
    assert len(h.receiver.requests) == ATTEMPTS

    [(key, value, headers)] = letters
    assert json.loads(value) == hook.payload and key == b"ana"
    assert headers["dlq.reason"] == b"escalation_delivery_failed"
    assert b"HTTP 500" in headers["dlq.error"]
    assert (headers["dlq.attempts"], headers["dlq.service"]) == (str(ATTEMPTS).encode(), b"feedback")
    assert headers["x-wom-delivery"] == hook.id.encode()
    assert dead_letters("feedback", "escalation_delivery_failed") == before + 1

    [listed] = await h.api("/deliveries?status=dead")
    assert (listed["id"], listed["channel"], listed["attempts"]) == (hook.id, "webhook", ATTEMPTS)
    assert await h.api("/deliveries?status=pending") == []


async def test_the_team_gets_an_email_with_the_case_facts(escalation: Harness) -> None:
    h = escalation
    case_id = await open_case(h)
    await h.deliver(later(1))
    [mail] = [m for m in h.inbox.messages if m["To"] == TEAM]
    assert mail["Subject"] == f"[P1] case {case_id} opened in queue key-clients — due 2031-05-06 07:08 UTC"
    text = mail.get_content()
    assert case_id in text and "ana" in text and "damaged" in text and "key client" in text
    assert f"/console/cases/{case_id}" in text
    assert COMMENT not in text and "deteriorat" not in text


async def test_the_team_mail_continues_the_trace_that_opened_the_case(escalation: Harness) -> None:
    h = escalation
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with continue_trace("handle detractor answer", f"00-{trace_id}-00f067aa0ba902b7-01"):
        await open_case(h)  # as the handler of the answer does, inside the event's span
    await h.deliver(later(1))
    [mail] = [m for m in h.inbox.messages if m["To"] == TEAM]
    assert str(mail["traceparent"]).split("-")[1] == trace_id


async def test_the_payload_carries_no_comment_and_only_the_queues_channels(escalation: Harness) -> None:
    h = escalation
    key_case = await open_case(h, customer="ana")
    other_case = await open_case(h, key_client=False, customer="bob")
    log = await h.deliveries(key_case)
    assert set(log) == {"webhook", "email"}
    assert (log["webhook"].target, log["email"].target) == (
        str(h.rules.queues[0].webhook.url) if h.rules.queues[0].webhook else None,
        TEAM,
    )
    payload = log["webhook"].payload
    assert set(payload) == {
        "event", "what", "case_id", "customer_id", "priority", "queue", "status", "key_client",
        "signals", "opened_at", "sla_due_at", "occurred_at", "console_path",
    }  # fmt: skip
    assert "deteriorat" not in json.dumps(payload) and payload["status"] == "open"
    assert [(d.channel, d.target) for d in (await h.deliveries(other_case)).values()] == [
        ("email", "support@support.example.com")
    ]


async def test_a_breach_is_escalated_too(escalation: Harness) -> None:
    h = escalation
    case_id = await open_case(h)
    async with h.service.work() as uow:
        await uow.session.execute(Delivery.__table__.delete())
        [breached] = await mark_breaches(uow, h.rules, now=datetime(2031, 5, 6, 9, 0, tzinfo=UTC))
    assert breached.case_id == case_id
    log = await h.deliveries(case_id)
    assert {d.what for d in log.values()} == {"breached"} and set(log) == {"webhook", "email"}
    assert log["webhook"].payload["occurred_at"] == "2031-05-06T09:00:00+00:00"
    await h.deliver(later(1))
    [request] = h.receiver.requests
    assert request.verified and request.headers["x-wom-event"] == "case.breached"
    [mail] = h.inbox.messages
    assert "breached in queue key-clients" in mail["Subject"]


async def test_a_missing_secret_is_a_recorded_delivery_error(
    escalation: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = escalation
    monkeypatch.delenv(SECRET_ENV)
    case_id = await open_case(h)
    assert await h.deliver(later(1)) == 2
    hook = (await h.deliveries(case_id))["webhook"]
    assert (hook.status, hook.attempts, hook.last_status_code) == ("pending", 1, None)
    assert hook.last_error is not None and SECRET_ENV in hook.last_error
    assert h.receiver.requests == []  # nothing unsigned ever leaves


async def test_the_receiver_rejects_a_wrong_signature(escalation: Harness) -> None:
    body = b'{"case_id":"c-1"}'
    timestamp = str(int(time.time()))
    good = "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"x-wom-timestamp": timestamp, "x-wom-signature": good}
    assert verify(SECRET, headers, body)
    assert not verify("another-secret", headers, body)
    assert not verify(SECRET, headers, body + b" ")
    assert not verify(SECRET, headers | {"x-wom-timestamp": str(int(timestamp) - 1)}, body)
    flipped = good[:-1] + ("1" if good.endswith("0") else "0")
    assert not verify(SECRET, headers | {"x-wom-signature": flipped}, body)
    stale = str(int(time.time()) - 3600)
    stale_sig = "sha256=" + hmac.new(SECRET.encode(), f"{stale}.".encode() + body, hashlib.sha256).hexdigest()
    assert not verify(SECRET, {"x-wom-timestamp": stale, "x-wom-signature": stale_sig}, body)

    url = str(escalation.rules.queues[0].webhook.url) if escalation.rules.queues[0].webhook else ""
    async with httpx.AsyncClient() as client:
        forged = await client.post(url, content=body, headers={**headers, "x-wom-signature": "sha256=00"})
        genuine = await client.post(url, content=body, headers=headers)
    assert (forged.status_code, genuine.status_code) == (401, 200)
