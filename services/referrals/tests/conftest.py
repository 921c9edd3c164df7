"""Fixtures of the referrals service tests: the service on the in-memory broker with a real
database (SQLite, and PostgreSQL when configured), with the shipped rules or adjusted ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from referrals.app import create_app
from referrals.rules import DEFAULT_RULES_FILE
from referrals.settings import ReferralsSettings
from wom_chassis import Service
from wom_chassis.testing import database_backends, empty_database_url, in_memory_service

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_URL = "https://r.example.com"
STOREFRONT = "https://shop.example.com/welcome?lang=en"


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied key by key (nested mappings merged)."""
    result = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


ReferralsFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture(params=database_backends())
def make_referrals(request: pytest.FixtureRequest, tmp_path: Path) -> ReferralsFactory:
    """Build a referrals service whose rules are the shipped ones with `rules` changes applied."""

    @asynccontextmanager
    async def make(rules: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Service]:
        rules_file = tmp_path / "rules.yaml"
        shipped = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
        rules_file.write_text(yaml.safe_dump(merged(shipped, rules or {}), allow_unicode=True))
        url = await empty_database_url(request.param, tmp_path)
        app = create_app(
            ReferralsSettings(
                database_url=url,
                api_token=TOKEN,
                referrals_rules_file=rules_file,
                referrals_public_url=PUBLIC_URL,
                referrals_storefront_url=STOREFRONT,
                referrals_hash_key="test-key",
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
