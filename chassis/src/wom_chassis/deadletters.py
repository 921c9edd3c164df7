"""Dead letters: a record the service cannot process is parked, intact, with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wom_chassis.columns import utcnow
from wom_chassis.publishing import OutgoingRecord

__all__ = [
    "DLQ_HEADER_PREFIX",
    "REPLAY_FOR_HEADER",
    "DeadLetter",
    "SourceRecord",
    "dead_letter_record",
    "replayed_for",
]

DLQ_HEADER_PREFIX = "dlq."
# A dead letter replayed to its source topic names the one service it is for: the others skip it.
REPLAY_FOR_HEADER = "dlq.replay.for"


class SourceRecord(Protocol):
    """What the chassis reads of a consumed Kafka record (aiokafka's ConsumerRecord fits)."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: Any
    headers: Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True)
class DeadLetter:
    """A record that will not be processed, and why."""

    record: SourceRecord
    reason: str
    error: str
    attempts: int = 1


def dead_letter_record(letter: DeadLetter, *, service: str, topic: str) -> OutgoingRecord:
    """The dead-letter record: the original key, value and headers as they were consumed (binary
    values, repeated names and nulls included) plus the `dlq.*` headers."""
    record = letter.record
    original = [(k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIX)]
    extra = {
        "reason": letter.reason,
        "error": letter.error[:4000],
        "source.topic": record.topic,
        "source.partition": str(record.partition),
        "source.offset": str(record.offset),
        "service": service,
        "failed_at": utcnow().isoformat(),
        "attempts": str(letter.attempts),
    }
    return OutgoingRecord(
        topic=topic,
        key=record.key,
        value=record.value,
        headers=[*original, *((DLQ_HEADER_PREFIX + k, v.encode()) for k, v in extra.items())],
    )


def replayed_for(record: SourceRecord) -> str | None:
    """The service a replayed dead letter is meant for; None for an ordinary record."""
    for name, value in record.headers:
        if name == REPLAY_FOR_HEADER and value is not None:
            return value.decode("utf-8", "replace")
    return None
