"""Fixtures of the feedback service tests: the service on the in-memory broker with a real
database (SQLite, and PostgreSQL when configured), with the shipped rules or adjusted ones."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from feedback.app import create_app
from feedback.rules import DEFAULT_RULES_FILE
from feedback.settings import FeedbackSettings
from wom_chassis import Service
from wom_testkit import database_backends, empty_database_url, in_memory_service, rules_file

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INTAKE_SECRET = "survey-tool-secret"

FeedbackFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture(params=database_backends())
def make_feedback(request: pytest.FixtureRequest, tmp_path: Path) -> FeedbackFactory:
    """Build a feedback service whose rules are the shipped ones with `changes` applied key by key,
    on an empty database each time."""

    @asynccontextmanager
    async def make(changes: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Service]:
        directory = Path(tempfile.mkdtemp(dir=tmp_path))  # a new SQLite file for each service
        rules = rules_file(directory, DEFAULT_RULES_FILE, changes)
        url = await empty_database_url(request.param, directory)
        app = create_app(
            FeedbackSettings(
                database_url=url,
                api_token=TOKEN,
                feedback_rules_file=rules,
                feedback_intake_secret=INTAKE_SECRET,
                feedback_session_secret="test-secret-key",
                **settings,
            )
        )
        async with in_memory_service(app) as service:
            yield service

    return make


@pytest.fixture
async def feedback(make_feedback: FeedbackFactory) -> AsyncIterator[Service]:
    async with make_feedback() as service:
        yield service
