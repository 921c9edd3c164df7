"""Listing and replaying a service's dead letters."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from wom_chassis.deadletters import DLQ_HEADER_PREFIX

__all__ = ["DeadLetterRecord", "read_dead_letters", "replay"]


@dataclass(frozen=True)
class DeadLetterRecord:
    """One record of `<service>.dlq` with its dead-letter headers split out."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    info: dict[str, str]

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had before it was dead-lettered."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]


async def read_dead_letters(
    service: str, client_options: dict[str, Any], idle_seconds: float = 2.0
) -> list[DeadLetterRecord]:
    """Every record of the service's dead-letter topic, read from the beginning until idle."""
    consumer = AIOKafkaConsumer(
        f"{service}.dlq", group_id=f"womctl-dlq-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False, **client_options,
    )  # fmt: skip
    await consumer.start()
    letters: list[DeadLetterRecord] = []
    try:
        idle_since = time.monotonic()
        # end offsets of some brokers are approximate: stop when nothing more arrives
        while time.monotonic() - idle_since < idle_seconds:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                idle_since = time.monotonic()
                for r in records:
                    headers = list(r.headers)
                    info = {
                        k[len(DLQ_HEADER_PREFIX) :]: v.decode("utf-8", "replace")
                        for k, v in headers
                        if k.startswith(DLQ_HEADER_PREFIX)
                    }
                    letters.append(
                        DeadLetterRecord(r.partition, r.offset, r.key, r.value or b"", headers, info)
                    )
    finally:
        await consumer.stop()
    return sorted(
        letters, key=lambda letter: (letter.info.get("failed_at", ""), letter.partition, letter.offset)
    )


async def replay(letters: list[DeadLetterRecord], client_options: dict[str, Any]) -> int:
    """Publish each letter's original record again to its source topic; return how many."""
    producer = AIOKafkaProducer(enable_idempotence=False, acks="all", **client_options)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.info["source.topic"], letter.value, key=letter.key, headers=letter.original_headers
            )
    finally:
        await producer.stop()
    return len(letters)
