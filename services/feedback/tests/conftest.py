from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from feedback.app import create_app
from feedback.settings import FeedbackSettings
from wom_chassis import Service
from wom_chassis.testing import database_backends, empty_database_url, in_memory_service


@pytest.fixture(params=database_backends())
async def feedback(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    url = await empty_database_url(request.param, tmp_path)
    async with in_memory_service(create_app(FeedbackSettings(database_url=url))) as service:
        yield service
