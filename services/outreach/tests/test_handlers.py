"""outreach with FastStream's in-memory broker, a real database and a real SMTP server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from httpx import ASGITransport, AsyncClient
from outreach.delivery import Mailer, deliver_due
from outreach.models import Contact, Message
from outreach.settings import OutreachSettings
from outreach.templates import Templates
from sqlalchemy import select
from wom_chassis import Service
from wom_chassis.tables import OutboxRecord
from wom_chassis.testing import publish_event
from wom_contracts import Balance, CustomerErasedV1, CustomerRegisteredV1, RewardGrantedV1, decode

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def registered(locale: str = "ro-MD") -> CustomerRegisteredV1:
    return CustomerRegisteredV1(
        customer_id="anna",
        email="anna@example.com",
        first_name="Ana",
        locale=locale,
        registered_at=WHEN,
    )


def granted(points: int = 42) -> RewardGrantedV1:
    return RewardGrantedV1(
        customer_id="anna",
        reward_id="r-1",
        kind="earn",
        status="pending",
        points=points,
        reason="purchase",
        source_event_id="evt-order",
        order_id="o-1",
        hold_until=datetime(2026, 11, 16, tzinfo=UTC),
        balance=Balance(points_available=0, points_pending=points),
        occurred_at=WHEN,
    )


async def deliver(service: Service) -> int:
    settings = service.settings
    assert isinstance(settings, OutreachSettings)
    return await deliver_due(service.db, Mailer(settings), Templates(), settings)


async def messages(service: Service) -> list[Message]:
    async with service.db.session() as session:
        return list((await session.scalars(select(Message))).all())


async def emitted(service: Service) -> list[object]:
    async with service.db.session() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.id))).all()
    return [decode(r.value, [(k, v.encode()) for k, v in r.headers]).event for r in rows]


async def test_a_reward_sends_a_localised_thank_you_mail(outreach: Service, smtp) -> None:  # type: ignore[no-untyped-def]
    inbox, _port = smtp
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted())
    assert await deliver(outreach) == 1
    [mail] = inbox.messages
    assert mail["To"] == "anna@example.com"
    assert mail["Subject"].startswith("Mulțumim, Ana!")
    assert mail["Content-Language"] == "ro"
    [message] = await messages(outreach)
    assert (message.status, message.kind, message.locale) == ("sent", "reward_granted", "ro")
    [sent] = await emitted(outreach)
    assert type(sent).__name__ == "MessageSentV1" and sent.kind == "reward_granted"  # type: ignore[attr-defined]


async def test_a_reward_before_the_registration_waits_for_the_contact(outreach: Service, smtp) -> None:  # type: ignore[no-untyped-def]
    inbox, _port = smtp
    await publish_event(outreach.broker, granted())
    assert await deliver(outreach) == 0
    assert [m.status for m in await messages(outreach)] == ["waiting"]
    await publish_event(outreach.broker, registered("en"))
    assert await deliver(outreach) == 1
    assert len(inbox.messages) == 1 and "42 points" in inbox.messages[0]["Subject"]


async def test_the_same_grant_twice_sends_one_mail(outreach: Service, smtp) -> None:  # type: ignore[no-untyped-def]
    inbox, _port = smtp
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted(), event_id="grant-1")
    await publish_event(outreach.broker, granted(), event_id="grant-1")
    await deliver(outreach)
    assert len(inbox.messages) == 1


async def test_an_unreachable_smtp_server_is_retried_then_reported(outreach: Service) -> None:
    settings = outreach.settings
    assert isinstance(settings, OutreachSettings)
    settings.smtp_port = 1  # nothing listens there
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted())
    await deliver(outreach)
    [message] = await messages(outreach)
    assert (message.status, message.attempts) == ("queued", 1)
    await asyncio.sleep(0.05)
    await deliver(outreach)
    [message] = await messages(outreach)
    assert (message.status, message.attempts) == ("failed", 2)
    [failed] = await emitted(outreach)
    assert type(failed).__name__ == "MessageFailedV1"


async def test_messages_api_requires_the_token(outreach: Service) -> None:
    await publish_event(outreach.broker, registered())
    async with AsyncClient(transport=ASGITransport(app=outreach.http), base_url="http://o") as c:
        assert (await c.get("/customers/anna/messages")).status_code == 401
        ok = await c.get("/customers/anna/messages", headers={"Authorization": "Bearer secret-token"})
        assert ok.status_code == 200 and ok.json()["messages"] == []


async def test_erasure_forgets_the_contact_and_sends_nothing_more(outreach: Service, smtp) -> None:  # type: ignore[no-untyped-def]
    inbox, _port = smtp
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted(), event_id="grant-1")
    await deliver(outreach)
    await publish_event(outreach.broker, granted(7), event_id="grant-2")  # queued, not yet sent
    await publish_event(outreach.broker, CustomerErasedV1(customer_id="anna", requested_at=WHEN))
    assert await deliver(outreach) == 0
    assert len(inbox.messages) == 1
    async with outreach.db.session() as session:
        assert await session.get(Contact, "anna") is None
    statuses = sorted((m.status, m.recipient, m.subject, m.data) for m in await messages(outreach))
    assert statuses == [("cancelled", None, None, {}), ("sent", None, None, {})]
    async with AsyncClient(transport=ASGITransport(app=outreach.http), base_url="http://o") as c:
        listed = await c.get("/customers/anna/messages", headers={"Authorization": "Bearer secret-token"})
    assert "anna@example.com" not in listed.text
