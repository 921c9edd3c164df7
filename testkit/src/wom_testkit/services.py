"""A service under test on FastStream's in-memory broker: what goes in, what it emitted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY
from sqlalchemy import select
from wom_chassis.consumer import EventHandlers
from wom_chassis.publishing import OutgoingRecord
from wom_chassis.service import Service
from wom_chassis.tables import OutboxRecord
from wom_chassis.unit_of_work import UnitOfWork
from wom_contracts import CustomerErasedV1, Event, decode, encode
from wom_contracts.asyncapi import ASYNCAPI_DIR, render_document

from wom_testkit.records import source_of

__all__ = [
    "BrokerRecords",
    "asyncapi_served_and_committed",
    "dead_letters",
    "emitted",
    "in_memory_service",
    "publish_event",
]

E = TypeVar("E", bound=Event)


async def publish_event(
    broker: KafkaBroker,
    event: Event,
    *,
    event_id: str | None = None,
    structured: bool = False,
    headers: dict[str, str] | None = None,
) -> str:
    """Publish `event` as an upstream system would (CloudEvents binary mode), with `headers` added
    (a `traceparent`, say); return its id."""
    record = encode(event, source=source_of(event), event_id=event_id, structured=structured)
    headers = {**{name: value.decode() for name, value in record.headers}, **(headers or {})}
    await broker.publish(record.value, topic=record.topic, key=record.key, headers=headers)
    return headers["ce_id"]


@dataclass(frozen=True)
class BrokerRecords:
    """Sends records through a FastStream broker: how a service on the in-memory broker parks
    its dead letters where the tests' subscribers see them. Headers travel as text, so a binary
    value or a repeated name does not survive; the real service sends through its producer."""

    broker: KafkaBroker

    async def send_records(self, records: Sequence[OutgoingRecord]) -> None:
        for record in records:
            headers = {name: (value or b"").decode("utf-8", "replace") for name, value in record.headers}
            await self.broker.publish(record.value, topic=record.topic, key=record.key, headers=headers)


@asynccontextmanager
async def in_memory_service(service: Service) -> AsyncIterator[Service]:
    """`service` on FastStream's in-memory broker with its database migrated (no relay running);
    its dead letters go to that broker too."""
    service.processor.records = BrokerRecords(service.broker)
    async with TestKafkaBroker(service.broker):
        await service.db.migrate()
        yield service
    await service.db.dispose()


async def emitted(service: Service, model: type[E] | None = None) -> list[Any]:
    """Events the service wrote to its outbox, oldest first (of one type when given)."""
    async with service.db.session() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.id))).all()
    events = [decode(row.value, [(k, v.encode()) for k, v in row.headers]).event for row in rows]
    return [event for event in events if model is None or isinstance(event, model)]


def dead_letters(service: str, reason: str) -> float:
    """How many records `service` has dead-lettered with `reason` in this process."""
    return REGISTRY.get_sample_value("wom_dead_letters_total", {"service": service, "reason": reason}) or 0


async def asyncapi_served_and_committed(service: Service) -> tuple[str, str]:
    """The text of what `service` serves at GET /asyncapi.json (rendered as committed) and of its
    committed contracts/asyncapi/<service>.json, for a test to compare."""
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/asyncapi.json")
    response.raise_for_status()
    committed = ASYNCAPI_DIR / f"{service.settings.service_name}.json"
    return render_document(response.json()), committed.read_text()


def idle_handlers() -> EventHandlers[None]:
    """Handlers of one event that do nothing: what a chassis test needs to build a service whose
    consuming it does not look at."""
    handlers: EventHandlers[None] = EventHandlers()

    @handlers.on(CustomerErasedV1)
    async def ignore(event: CustomerErasedV1, uow: UnitOfWork[None]) -> None:
        return None

    return handlers
