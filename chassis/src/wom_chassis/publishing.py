"""Publishing records with exact keys, values and headers through a plain aiokafka producer: one
record at a time (dead letters, byte for byte as they were consumed) or a partition's batch at a
time (the outbox relay). FastStream's `broker.publish` is not used for either: it takes headers
as a text dictionary, which mangles a binary value, keeps one of a repeated name and turns a
null into ''."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

__all__ = [
    "BatchProducer",
    "KeyPartitioner",
    "OutgoingRecord",
    "RecordBatch",
    "RecordProducer",
    "RecordSender",
]


@dataclass(frozen=True)
class OutgoingRecord:
    """A Kafka record ready to send: topic, key, value (None: a tombstone) and headers, in order,
    repeats and null values included."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]


class RecordSender(Protocol):
    """What sends single records exactly as given (`RecordProducer` is the real one)."""

    async def send_records(self, records: Sequence[OutgoingRecord]) -> None:
        """Send all records, then wait until the cluster has acknowledged every one."""


class RecordBatch(Protocol):
    """Records for one partition, sent in one piece (aiokafka's `BatchBuilder` fits)."""

    def append(
        self, *, timestamp: int | None, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> object | None:
        """Add a record; None when the batch is full (it is then closed)."""

    def close(self) -> None:
        """Take no more records."""


class BatchProducer(Protocol):
    """What the outbox relay needs of a producer (`RecordProducer` is the real one)."""

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partition ids, from the cluster's metadata."""

    def create_batch(self) -> RecordBatch:
        """An empty batch, at most as large as the producer sends in one piece."""

    async def send_batch(self, batch: RecordBatch, topic: str, partition: int) -> Awaitable[object]:
        """Queue `batch` for `partition`; the result resolves once the cluster has acknowledged it."""

    async def stop(self) -> None:
        """Flush what is queued and disconnect."""


class KeyPartitioner:
    """The partition aiokafka's default partitioner gives a key (murmur2 of the key modulo the
    partition count, as the Java client does), computed once per key and partition count: the
    relay sends whole batches to a partition and must put each key exactly where the default
    producer would, so that a customer's events stay in one partition, in order."""

    def __init__(self, max_keys: int = 65_536) -> None:
        self.max_keys = max_keys
        self._default = DefaultPartitioner()
        # per partition count (a topic's ids are always 0 to count - 1), then per key
        self._known: dict[int, dict[bytes, int]] = {}

    def __call__(self, key: bytes | None, partitions: list[int]) -> int:
        """The partition of `key` among `partitions` (a topic's ids, as the metadata lists them)."""
        if key is None:  # no key, no order to keep: any partition, as the default producer does
            return int(self._default(None, partitions, partitions))
        known = self._known.get(len(partitions))
        if known is None or len(known) >= self.max_keys:
            known = self._known[len(partitions)] = {}  # bounded: forget and compute again
        partition = known.get(key)
        if partition is None:
            partition = known[key] = int(self._default(key, partitions, partitions))
        return partition


class RecordProducer:
    """A plain aiokafka producer for whole batches, one per partition (the outbox relay's):
    FastStream's `broker.publish` costs far more per record, and a batch is one piece for the
    cluster, acknowledged or failed as a whole. Connects on first use and again after a failed
    start. `options` are aiokafka's; batches hold up to `BATCH_BYTES` unless `max_batch_size`
    says otherwise."""

    BATCH_BYTES = 256 * 1024
    """A relay round's rows of one partition in one batch (500 rows of a few hundred bytes each,
    over few partitions or one busy one); a broker takes batches of up to 1 MiB by default."""

    def __init__(self, **options: Any) -> None:
        self._options = {"max_batch_size": self.BATCH_BYTES, **options}
        self._producer: Any = None

    async def start(self) -> None:
        """Connect to the cluster (raises while it is unreachable)."""
        if self._producer is None:
            producer = AIOKafkaProducer(**self._options)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer

    async def stop(self) -> None:
        """Flush what is queued and disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def _started(self) -> Any:
        if self._producer is None:
            await self.start()
        return self._producer

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partition ids as the producer's metadata lists them (fetched for a topic
        it does not know yet; raises when the cluster does not know it either)."""
        producer = await self._started()
        return list(await producer.partitions_for(topic))

    def create_batch(self) -> RecordBatch:
        """An empty batch of up to the producer's `max_batch_size` bytes."""
        if self._producer is None:
            raise RuntimeError("the producer is not started: ask for partitions first")
        batch: RecordBatch = self._producer.create_batch()
        return batch

    async def send_batch(self, batch: RecordBatch, topic: str, partition: int) -> Awaitable[object]:
        """Queue `batch` for `topic`'s `partition`; await the result for the acknowledgement."""
        producer = await self._started()
        delivery: Awaitable[object] = await producer.send_batch(batch, topic, partition=partition)
        return delivery

    async def send_records(self, records: Sequence[OutgoingRecord]) -> None:
        """Send each record as it is (key, value and every header, byte for byte), partitioned by
        its key as the producer partitions; return once the cluster has acknowledged all."""
        producer = await self._started()
        deliveries = [
            await producer.send(record.topic, record.value, key=record.key, headers=list(record.headers))
            for record in records
        ]
        await asyncio.gather(*deliveries)
