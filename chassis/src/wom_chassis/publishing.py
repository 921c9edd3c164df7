"""Publishing records with exact keys and headers through the service's FastStream broker."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

__all__ = ["OutgoingRecord", "publish_records"]


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
