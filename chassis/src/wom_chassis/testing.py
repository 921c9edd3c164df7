"""Test support shared by every service's tests: databases on SQLite and PostgreSQL, records."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest
import uvicorn
import yaml
from faststream.kafka import KafkaBroker, TestKafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from wom_contracts import Event, decode, encode

from wom_chassis.database import Database
from wom_chassis.publishing import OutgoingRecord
from wom_chassis.service import Service
from wom_chassis.tables import OutboxRecord

__all__ = [
    "CHROMIUM",
    "POSTGRES_ENV",
    "BrokerRecords",
    "FakeRecord",
    "MailInbox",
    "chromium",
    "chromium_missing",
    "chromium_page",
    "database_backends",
    "dead_letters",
    "emitted",
    "empty_database_url",
    "eventually",
    "free_port",
    "fresh_database",
    "in_memory_service",
    "publish_event",
    "record_of",
    "rules_file",
    "serving",
    "span_recorder",
]

POSTGRES_ENV = "WOM_TEST_POSTGRES_URL"
_SQLITE_FILES = itertools.count()
E = TypeVar("E", bound=Event)


def database_backends() -> list[Any]:
    """pytest params: SQLite always, PostgreSQL when WOM_TEST_POSTGRES_URL is set (else skipped)."""
    postgres = os.environ.get(POSTGRES_ENV)
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            postgres or "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(
                not postgres,
                reason=f"{POSTGRES_ENV} is not set: the PostgreSQL variant skips (.ci/run sets it; "
                "scripts/bootstrap installs PostgreSQL when run as root)",
            ),
        ),
    ]


async def empty_database_url(backend: str, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file (another at each call, so that two services
    of one test never share one), or a wiped PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / f'test-{next(_SQLITE_FILES)}.db'}"
    engine = create_async_engine(backend)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return backend


async def fresh_database(backend: str, tmp_path: Path, migrations: Sequence[Path]) -> Database:
    """An empty database with the chassis' and the given migrations applied."""
    db = Database(await empty_database_url(backend, tmp_path), migrations)
    await db.migrate()
    return db


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
    record = encode(event, source="tests", event_id=event_id, structured=structured)
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


@dataclass
class FakeRecord:
    """A consumed record as aiokafka hands it over, for driving the consume path directly."""

    topic: str
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    key: bytes | None = None
    partition: int = 0
    offset: int = 0


def record_of(
    event: Event, *, offset: int = 0, event_id: str | None = None, structured: bool = False
) -> FakeRecord:
    """The record an upstream publisher would produce for `event`."""
    encoded = encode(event, source="tests", event_id=event_id, structured=structured)
    return FakeRecord(
        topic=encoded.topic,
        value=encoded.value,
        headers=list(encoded.headers),
        key=encoded.key,
        offset=offset,
    )


async def emitted(service: Service, model: type[E] | None = None) -> list[Any]:
    """Events the service wrote to its outbox, oldest first (of one type when given)."""
    async with service.db.session() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.id))).all()
    events = [decode(row.value, [(k, v.encode()) for k, v in row.headers]).event for row in rows]
    return [event for event in events if model is None or isinstance(event, model)]


def dead_letters(service: str, reason: str) -> float:
    """How many records `service` has dead-lettered with `reason` in this process."""
    return REGISTRY.get_sample_value("wom_dead_letters_total", {"service": service, "reason": reason}) or 0


_SPANS: InMemorySpanExporter | None = None


def span_recorder() -> InMemorySpanExporter:
    """A recording tracer provider for the process with an in-memory exporter attached (once),
    emptied: the spans ended from now on are in `.get_finished_spans()`."""
    global _SPANS
    if _SPANS is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        _SPANS = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    _SPANS.clear()
    return _SPANS


async def eventually(check: Callable[[], Any], timeout: float = 15, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"not true within {timeout}s (last value {value!r})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free port of 127.0.0.1 in this event loop (lifespan
    off: the test runs whatever the app needs itself); yield its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it could not start: raise why
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


def rules_file(directory: Path, shipped: Path, changes: dict[str, Any] | None = None) -> Path:
    """A copy of a service's shipped rules file in `directory` with `changes` applied key by key
    (nested mappings merged, None removes a key)."""
    rules = _merged(yaml.safe_load(shipped.read_text(encoding="utf-8")), changes or {})
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium: browser tests drive it with Playwright (`playwright install` downloads nothing here)."""


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here (a skip reason), or None when Chromium is installed."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    return f"no Chromium at {CHROMIUM}: scripts/bootstrap installs Debian's chromium when run as root"


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A fresh headless Chromium (a playwright `Browser`), closed afterwards; a module of browser
    tests shares one and opens a context of its own for each page."""
    from playwright.async_api import async_playwright  # a dev dependency, needed by browser tests only

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def chromium_page(
    timeout_ms: float = 5000, http_credentials: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """A page of a fresh headless Chromium, closed afterwards (a playwright `Page`); with
    `http_credentials` ({"username", "password"}) it answers an HTTP authentication challenge
    as a person does in the browser's login prompt."""
    async with chromium() as browser:
        credentials: Any = http_credentials  # playwright's HttpCredentials: username, password
        page = await browser.new_page(http_credentials=credentials)
        page.set_default_timeout(timeout_ms)
        yield page


class MailInbox:
    """A real SMTP server on a free port of 127.0.0.1 that keeps every mail it receives
    (`controller.start()` / `controller.stop()`, or `with MailInbox() as inbox`)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller  # a dev dependency, needed by mail tests only

        self.messages: list[EmailMessage] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        return "250 OK"

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def to(self, address: str) -> list[EmailMessage]:
        """The mails received for `address`."""
        return [m for m in self.messages if m["To"] == address]

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
