"""Consumed records as aiokafka hands them over, for driving the consume path directly."""

from __future__ import annotations

from dataclasses import dataclass, field

from wom_contracts import SERVICES, UPSTREAM_TYPES, Event, encode, service_source

__all__ = ["FakeRecord", "record_of", "source_of"]


def source_of(event: Event | type[Event] | str, upstream: str = "tests") -> str:
    """The `ce_source` a record of `event` (or of an event type) carries in a deployment: its wom
    service's for a wom event (consumers refuse any other), `upstream` for an upstream one."""
    event_type = event if isinstance(event, str) else event.event_type
    owner = event_type.split(".", 1)[0]
    return service_source(owner) if owner in SERVICES and event_type not in UPSTREAM_TYPES else upstream


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
    encoded = encode(event, source=source_of(event), event_id=event_id, structured=structured)
    return FakeRecord(
        topic=encoded.topic,
        value=encoded.value,
        headers=list(encoded.headers),
        key=encoded.key,
        offset=offset,
    )
