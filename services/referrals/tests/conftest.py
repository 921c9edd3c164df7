"""Fixtures of the referrals service tests: the service on the in-memory broker with a real
database (SQLite, and PostgreSQL when configured), with the shipped rules or adjusted ones."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from referrals.app import create_app
from referrals.rules import DEFAULT_RULES_FILE
from referrals.settings import ReferralsSettings
from wom_chassis import Service
from wom_testkit import database_backends, empty_database_url, in_memory_service, rules_file

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_URL = "https://r.example.com"
STOREFRONT = "https://shop.example.com/welcome?lang=en"


ReferralsFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture(params=database_backends())
def make_referrals(request: pytest.FixtureRequest, tmp_path: Path) -> ReferralsFactory:
    """Build a referrals service whose rules are the shipped ones with `changes` applied key by key."""

    made = itertools.count()

    @asynccontextmanager
    async def make(changes: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Service]:
        rules = rules_file(tmp_path, DEFAULT_RULES_FILE, changes)
        home = tmp_path / f"service-{next(made)}"  # each service its own empty database
        home.mkdir()
        url = await empty_database_url(request.param, home)
        app = create_app(
            ReferralsSettings(
                database_url=url,
                api_token=TOKEN,
                referrals_rules_file=rules,
                referrals_public_url=PUBLIC_URL,
                referrals_storefront_url=STOREFRONT,
                referrals_hash_secret="test-key",
                **settings,
            )
        )
        async with in_memory_service(app) as service:
            yield service

    return make


@pytest.fixture
async def referrals(make_referrals: ReferralsFactory) -> AsyncIterator[Service]:
    async with make_referrals() as service:
        yield service
