from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rewards.app import create_app
from rewards.settings import RewardsSettings
from wom_chassis import Service
from wom_chassis.testing import database_backends, empty_database_url, in_memory_service


@pytest.fixture(params=database_backends())
async def rewards(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    url = await empty_database_url(request.param, tmp_path)
    async with in_memory_service(
        create_app(RewardsSettings(database_url=url, api_token="secret-token"))
    ) as service:
        yield service
