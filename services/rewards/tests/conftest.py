"""Fixtures of the rewards service tests: the service on the in-memory broker with a real
database (SQLite, and PostgreSQL when configured), with the shipped rules or adjusted ones."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from rewards.app import create_app
from rewards.rules import DEFAULT_RULES_FILE
from rewards.settings import RewardsSettings
from wom_chassis import Service
from wom_testkit import database_backends, empty_database_url, in_memory_service, rules_file

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


RewardsFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture(params=database_backends())
def make_rewards(request: pytest.FixtureRequest, tmp_path: Path) -> RewardsFactory:
    """Build a rewards service whose rules are the shipped ones with `changes` applied key by key,
    on an empty database of its own (each call a new one)."""
    calls = itertools.count()

    @asynccontextmanager
    async def make(changes: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Service]:
        directory = tmp_path / f"rewards-{next(calls)}"
        directory.mkdir()
        rules = rules_file(directory, DEFAULT_RULES_FILE, changes)
        url = await empty_database_url(request.param, directory)
        app = create_app(
            RewardsSettings(database_url=url, api_token=TOKEN, rewards_rules_file=rules, **settings)
        )
        async with in_memory_service(app) as service:
            yield service

    return make


@pytest.fixture
async def rewards(make_rewards: RewardsFactory) -> AsyncIterator[Service]:
    async with make_rewards() as service:
        yield service
