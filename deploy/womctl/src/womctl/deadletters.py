"""Listing, showing and replaying a service's dead letters."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError
from wom_chassis.deadletters import DLQ_HEADER_PREFIX, REPLAY_FOR_HEADER

from womctl.cluster import DEFAULT_TIMEOUT, consumer, producer

__all__ = ["DeadLetterRecord", "NoSuchTopic", "read_dead_letter", "read_dead_letters", "render", "replay"]


class NoSuchTopic(LookupError):
    """The cluster has no such topic."""


@dataclass(frozen=True)
class DeadLetterRecord:
    """One record of `<service>.dlq` with its dead-letter headers split out."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    info: dict[str, str]

    @property
    def original_headers(self) -> list[tuple[str, bytes | None]]:
        """The headers the record had before it was dead-lettered, as they were: in order, binary
        values, repeated names and nulls included."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    @classmethod
    def of(cls, record: Any) -> DeadLetterRecord:
        """Split a consumed record's `dlq.*` headers out."""
        headers = list(record.headers)
        info = {
            k[len(DLQ_HEADER_PREFIX) :]: (v or b"").decode("utf-8", "replace")
            for k, v in headers
            if k.startswith(DLQ_HEADER_PREFIX)
        }
        return cls(record.partition, record.offset, record.key, record.value, headers, info)


async def _assign_all(reader: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await reader.topics()  # the cluster's metadata
    partitions = reader.partitions_for_topic(topic)
    if not partitions:
        raise NoSuchTopic(f"the cluster has no topic {topic}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    reader.assign(assigned)
    return assigned


async def read_dead_letters(
    service: str, client_options: dict[str, Any], idle_seconds: float = 2.0, timeout: float = DEFAULT_TIMEOUT
) -> list[DeadLetterRecord]:
    """Every record of the service's dead-letter topic, read from the beginning until idle."""
    letters: list[DeadLetterRecord] = []
    async with consumer(client_options, timeout, auto_offset_reset="earliest") as reader:
        await reader.seek_to_beginning(*await _assign_all(reader, f"{service}.dlq"))
        idle_since = time.monotonic()
        # end offsets of some brokers are approximate: stop when nothing more arrives
        while time.monotonic() - idle_since < idle_seconds:
            batch = await reader.getmany(timeout_ms=300)
            for records in batch.values():
                idle_since = time.monotonic()
                letters += [DeadLetterRecord.of(record) for record in records]
    return sorted(
        letters, key=lambda letter: (letter.info.get("failed_at", ""), letter.partition, letter.offset)
    )


async def read_dead_letter(
    service: str,
    partition: int,
    offset: int,
    client_options: dict[str, Any],
    idle_seconds: float = 2.0,
    timeout: float = DEFAULT_TIMEOUT,
) -> DeadLetterRecord | None:
    """The one dead letter at `partition:offset` of the service's dead-letter topic, if there is one."""
    async with consumer(client_options, timeout, auto_offset_reset="none") as reader:
        where = TopicPartition(f"{service}.dlq", partition)
        if where not in await _assign_all(reader, where.topic):
            return None
        reader.seek(where, offset)
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_seconds:  # end offsets may be approximate
            try:
                batch = await reader.getmany(where, timeout_ms=300)
            except OffsetOutOfRangeError:  # before the first retained record, or past the end
                return None
            for record in batch.get(where, []):
                if record.offset >= offset:  # a later one: that offset holds no record any more
                    return DeadLetterRecord.of(record) if record.offset == offset else None
    return None


async def replay(
    service: str,
    letters: list[DeadLetterRecord],
    client_options: dict[str, Any],
    timeout: float = DEFAULT_TIMEOUT,
    on_sent: Callable[[int], None] = lambda count: None,
) -> int:
    """Publish each of `service`'s letters again to its source topic, for that service alone (the
    `dlq.replay.for` header; the other services' consumers skip it); return how many. Key, value
    and the original headers go out byte for byte as the service consumed them.

    The record keeps its `ce_id`, so the service's inbox makes a second replay a no-op."""
    async with producer(client_options, timeout) as sender:
        for letter in letters:
            headers = [*letter.original_headers, (REPLAY_FOR_HEADER, service.encode())]
            topic = letter.info["source.topic"]
            await sender.send_and_wait(topic, letter.value, key=letter.key, headers=headers)
            on_sent(1)
    return len(letters)


_INFO_ORDER = ["reason", "error", "service", "failed_at", "attempts", "source.topic", "source.partition",
               "source.offset"]  # fmt: skip


def render(service: str, letter: DeadLetterRecord) -> str:
    """One dead letter in full, as plain text: why and where from, the original headers, the payload."""
    info = letter.info
    lines = [f"{service}.dlq {letter.partition}:{letter.offset}"]
    for name in [*_INFO_ORDER, *sorted(set(info) - set(_INFO_ORDER))]:
        if name in info:
            lines.append(f"{name + ':':<18}{info[name]}")
    key = letter.key.decode("utf-8", "replace") if letter.key is not None else "(none)"
    lines += [f"{'key:':<18}{key}", "headers:"]
    lines += [f"  {name}: {_header_text(value)}" for name, value in letter.original_headers]
    if letter.value is None:
        lines.append("payload: (none, a tombstone)")
    else:
        lines += [f"payload ({len(letter.value)} bytes):", _payload_text(letter.value)]
    return "\n".join(lines)


def _header_text(value: bytes | None) -> str:
    if value is None:
        return "(null)"
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)


def _payload_text(value: bytes) -> str:
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except ValueError:  # not JSON (often why it is here): show it as it is
        pass
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)
