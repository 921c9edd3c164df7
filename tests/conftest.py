"""Fixtures for the end-to-end and reliability layers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from wom_testkit import database_backends, free_port

from tests.support import API_TOKEN, ServiceProcess, service_database_urls


@pytest.fixture(params=database_backends())
async def run_service(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[Callable[..., ServiceProcess]]:
    """Start services as real processes, each with an empty database of its own (SQLite, and
    PostgreSQL `wom_<service>` when WOM_TEST_POSTGRES_URL is set)."""
    urls = await service_database_urls(request.param, tmp_path)
    started: list[ServiceProcess] = []

    def run(name: str, **extra: str) -> ServiceProcess:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "DATABASE_URL": urls[name],
            "HTTP_PORT": str(free_port()),
            "API_TOKEN": API_TOKEN,
            # every test has its own consumer group, so each starts from the earliest event
            "CONSUMER_GROUP": f"{name}-{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "INFO",
            **extra,
        }
        service = ServiceProcess(name, env, tmp_path / f"{name}.log").start()
        started.append(service)
        return service

    yield run
    for service in started:
        service.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=False, acks="all", linger_ms=5
    )
    await client.start()
    yield client
    await client.stop()
