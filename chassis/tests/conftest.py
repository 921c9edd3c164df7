import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from wom_chassis import Database
from wom_chassis.publishing import OutgoingRecord
from wom_contracts import decode
from wom_testkit import database_backends, fresh_database


@pytest.fixture(params=database_backends())
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await fresh_database(request.param, tmp_path, [])
    yield database
    await database.dispose()


class TopicSink:
    """A record sender that keeps, exactly as sent, the records for `topic` (the dead letters of
    the tests' service)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.records: list[OutgoingRecord] = []

    async def send_records(self, records: Sequence[OutgoingRecord]) -> None:
        assert {record.topic for record in records} <= {self.topic}, "a record for another topic"
        self.records += records

    def headers(self, index: int) -> dict[str, str]:
        return {k: v.decode("utf-8", "replace") for k, v in self.records[index].headers if v is not None}


@pytest.fixture
def sink() -> TopicSink:
    """What reaches the dead-letter topic of the tests' service."""
    return TopicSink("test.dlq")


@dataclass
class SentRecord:
    """A record the fake producer was given: where it went and what it carried."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def order_id(self) -> str:
        return str(decode(self.value, [(k, v.encode()) for k, v in self.headers.items()]).event.order_id)  # type: ignore[attr-defined]


class FakeBatch:
    """A batch that holds `limit` records (aiokafka's holds a number of bytes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
        self.closed = False

    def append(self, *, timestamp, key, value, headers):  # type: ignore[no-untyped-def]
        if self.closed or len(self.records) >= self.limit:
            self.closed = True
            return None
        self.records.append((key, value, list(headers)))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Keeps what the relay sends, as a cluster of `partitions` partitions per topic would get it.
    While `down` is set every batch fails; `fail_next` fails that many batches after the broker
    has written them (an acknowledgement lost on the way back)."""

    def __init__(self, partitions: int = 4, batch_limit: int = 1000) -> None:
        self.partition_count = partitions
        self.batch_limit = batch_limit
        self.down = False
        self.fail_next = 0
        self.records: list[SentRecord] = []
        self.batches: list[tuple[str, int, int]] = []  # topic, partition, records of each sent batch

    async def partitions(self, topic: str) -> list[int]:
        return list(range(self.partition_count))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_limit)

    async def send_batch(self, batch: FakeBatch, topic: str, partition: int) -> asyncio.Future[None]:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.down:
            delivery.set_exception(ConnectionError("broker unreachable"))
            return delivery
        self.batches.append((topic, partition, len(batch.records)))
        for key, value, headers in batch.records:
            named = {name: raw.decode() for name, raw in headers}
            self.records.append(SentRecord(topic, partition, key, value, named))
        if self.fail_next:
            self.fail_next -= 1
            delivery.set_exception(TimeoutError("acknowledgement lost"))
        else:
            delivery.set_result(None)
        return delivery

    async def stop(self) -> None:
        return None

    @property
    def sent(self) -> list[str]:
        """The order ids sent, in order."""
        return [record.order_id for record in self.records]

    def headers(self, index: int) -> dict[str, str]:
        return self.records[index].headers
