"""Fixtures of the outreach service tests: the service on the in-memory broker with a real
database (SQLite, and PostgreSQL when configured) and a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from outreach.app import create_app
from outreach.rules import DEFAULT_RULES_FILE
from outreach.settings import OutreachSettings
from wom_chassis import Service
from wom_testkit import (
    MailInbox,
    database_backends,
    empty_database_url,
    in_memory_service,
    rules_file,
)

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def smtp() -> Iterator[tuple[MailInbox, int]]:
    with MailInbox() as inbox:
        yield inbox, inbox.port


OutreachFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture(params=database_backends())
def make_outreach(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[MailInbox, int]
) -> OutreachFactory:
    """Build an outreach service whose rules are the shipped ones with `changes` applied key by key;
    `fresh=False` keeps the database of the previous one (a restart)."""

    @asynccontextmanager
    async def make(
        changes: dict[str, Any] | None = None, *, fresh: bool = True, **settings: Any
    ) -> AsyncIterator[Service]:
        # quiet hours that never cover the test run, unless a test sets its own
        hour = (datetime.now(UTC).hour + 6) % 24
        calm = {"start": f"{hour:02d}:00", "end": f"{(hour + 1) % 24:02d}:00", "default_timezone": "UTC"}
        rules = rules_file(tmp_path, DEFAULT_RULES_FILE, {"quiet_hours": calm, **(changes or {})})
        url = await empty_database_url(request.param, tmp_path) if fresh else make.url  # type: ignore[attr-defined]
        make.url = url  # type: ignore[attr-defined]
        app = create_app(
            OutreachSettings(
                **{"smtp_port": smtp[1], **settings},
                database_url=url,
                api_token=TOKEN,
                outreach_rules_file=rules,
                outreach_public_url="https://mail.example.com",
                outreach_unsubscribe_secret="test-key",
                delivery_max_attempts=2,
                delivery_retry_seconds=0.01,
            )
        )
        async with in_memory_service(app) as service:
            yield service

    return make


@pytest.fixture
async def outreach(make_outreach: OutreachFactory) -> AsyncIterator[Service]:
    async with make_outreach() as service:
        yield service


@pytest.fixture(autouse=True)
def events_happen_when_the_test_starts() -> None:
    """The event helpers of test_loop (used by other test files too) read `NOW` when called: a time
    taken at import would be many minutes old late in a long suite, and a welcome delayed by
    minutes would already be due."""
    from .service import test_loop

    test_loop.NOW = datetime.now(UTC).replace(microsecond=0)
