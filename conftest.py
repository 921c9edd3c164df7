"""Fixtures shared by every test directory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS when set; otherwise an embedded broker with every topic created."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        from womctl.topics import create_topics

        asyncio.run(create_topics(configured))
        yield configured
        return
    from womctl.broker import EmbeddedBroker
    from womctl.topics import create_topics

    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap))
        yield broker.bootstrap
