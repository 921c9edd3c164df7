from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from wom_chassis import Database
from wom_chassis.testing import database_backends, fresh_database


@pytest.fixture(params=database_backends())
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await fresh_database(request.param, tmp_path, [])
    yield database
    await database.dispose()


class TopicSink:
    """An in-memory broker with a subscriber that keeps the raw records reaching `topic`."""

    def __init__(self, topic: str) -> None:
        self.broker = KafkaBroker("localhost:9092")
        self.records: list = []

        @self.broker.subscriber(topic, decoder=self._raw)
        async def keep(message: KafkaMessage) -> None:
            self.records.append(message.raw_message)

    @staticmethod
    async def _raw(message):  # type: ignore[no-untyped-def]
        return message.raw_message.value

    def headers(self, index: int) -> dict[str, str]:
        return {k: v.decode() for k, v in self.records[index].headers}


@pytest.fixture
async def sink() -> AsyncIterator[TopicSink]:
    """What reaches the dead-letter topic of the tests' service."""
    sink = TopicSink("test.dlq")
    async with TestKafkaBroker(sink.broker):
        yield sink
