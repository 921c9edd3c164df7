"""Publishing records with exact keys and headers: through the service's FastStream broker, or
through a plain aiokafka producer when many records go out at once (the outbox relay)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

__all__ = ["OutgoingRecord", "RecordProducer", "publish_records"]


@dataclass(frozen=True)
class OutgoingRecord:
    """A Kafka record ready to send: topic, key, value and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes | None]]


async def publish_records(broker: KafkaBroker, records: Sequence[OutgoingRecord]) -> None:
    """Send all records, then wait until the broker has acknowledged every one."""
    pending = []
    for record in records:
        headers = {
            name: value.decode("utf-8", "replace") if value is not None else ""
            for name, value in record.headers
        }
        sent = await broker.publish(
            record.value, topic=record.topic, key=record.key, headers=headers, no_confirm=True
        )
        if inspect.isawaitable(sent):
            pending.append(sent)
    for sent in pending:
        await sent


class RecordProducer:
    """A plain aiokafka producer: a whole batch of records is handed to it, then every delivery
    is awaited. FastStream's `broker.publish` costs far more per record, which matters for the
    relay; the broker stays in charge of consuming and of the occasional dead letter."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._producer: AIOKafkaProducer | None = None

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
        """Flush what is buffered and disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send(self, records: Sequence[OutgoingRecord]) -> None:
        """Send all records, then wait until the cluster has acknowledged every one."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        deliveries = [
            await self._producer.send(r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records
        ]
        await asyncio.gather(*deliveries)
