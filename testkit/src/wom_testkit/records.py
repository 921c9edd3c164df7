"""Consumed records as aiokafka hands them over, for driving the consume path directly."""

from __future__ import annotations

from dataclasses import dataclass, field

from wom_contracts import Event, encode

__all__ = ["FakeRecord", "record_of"]


@dataclass
class FakeRecord:
    """A consumed record as aiokafka hands it over, for driving the consume path directly."""

    topic: str
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    key: bytes | None = None
    partition: int = 0
    offset: int = 0


def record_of(
    event: Event, *, offset: int = 0, event_id: str | None = None, structured: bool = False
) -> FakeRecord:
    """The record an upstream publisher would produce for `event`."""
    encoded = encode(event, source="tests", event_id=event_id, structured=structured)
    return FakeRecord(
        topic=encoded.topic,
        value=encoded.value,
        headers=list(encoded.headers),
        key=encoded.key,
        offset=offset,
    )
