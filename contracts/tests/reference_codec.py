"""The reference the hand-written binding in `wom_contracts.codec` is held to: the CloudEvents
binding as the `cloudevents` SDK reads and writes it, then pydantic, as `codec.py` did before
it was written by hand (`git log -- contracts/src/wom_contracts/codec.py`). A test helper: the
SDK is a dev dependency only.

Three adaptations, each a documented difference of the codec (see its docstring), so that the
equivalence tests compare like with like and assert the differences on their own:

- `specversion` must be given, as "1.0": the SDK reads a 0.3 event as one, and a record without
  the attribute as 1.0.
- `id` must be given: for a record without one the SDK invents a uuid4 each time it is read.
- `time` is None when not given: the SDK fills in the moment of reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings import kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError
from wom_contracts.base import Event
from wom_contracts.codec import (
    JSON,
    STRUCTURED,
    DecodedEvent,
    Envelope,
    InvalidEnvelope,
    InvalidEvent,
    KafkaRecord,
)
from wom_contracts.registry import model_for

__all__ = ["decode", "decode_envelope", "encode"]

_FORMAT = JSONFormat()


class _GivenCloudEvent(CloudEvent):
    """The SDK's v1.0 event without the defaults it fills in for a new one (see the module)."""

    def __init__(self, attributes: dict[str, Any], data: Any = None) -> None:
        if attributes.get("specversion") != "1.0":
            raise InvalidEnvelope("not a CloudEvent 1.0: attribute 'specversion' must be '1.0'")
        if "id" not in attributes:
            raise InvalidEnvelope("not a CloudEvent: attribute 'id' is missing")
        timed = "time" in attributes
        super().__init__(attributes, data)
        if not timed:
            del self._attributes["time"]


def encode(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    structured: bool = False,
) -> KafkaRecord:
    """`event` as a Kafka record, written by the SDK's `to_binary` / `to_structured`."""
    cloud_event = CloudEvent(
        attributes={
            "id": event_id or os.urandom(16).hex(),
            "source": source,
            "type": event.event_type,
            "specversion": "1.0",
            "time": (time or datetime.now(UTC)).astimezone(UTC),
            "subject": event.customer_id,
            "datacontenttype": JSON,
        },
        data=event.model_dump(mode="json", exclude_none=True)
        if structured
        else event.model_dump_json(exclude_none=True).encode(),
    )
    if structured:
        message = kafka.to_structured(cloud_event, _FORMAT, key_mapper=_no_key)
    else:
        message = kafka.to_binary(cloud_event, _FORMAT, key_mapper=_no_key)
    return KafkaRecord(
        topic=event.event_type,
        key=event.customer_id.encode(),
        value=message.value,
        headers=list(message.headers.items()),
    )


def _no_key(_event: Any) -> None:
    return None


def decode_envelope(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Envelope:
    """The CloudEvent of a record as the SDK reads it; InvalidEnvelope if it is not one."""
    names = {name.lower(): raw or b"" for name, raw in headers}  # Kafka allows null header values
    content_type = names.get("content-type", b"").decode("utf-8", "replace").split(";")[0].strip()
    binary = any(name.startswith("ce_") for name in names)  # the SDK's from_kafka test
    if not binary and content_type != STRUCTURED:
        raise InvalidEnvelope("no ce_ headers and content-type is not application/cloudevents+json")
    if binary and content_type not in ("", JSON):
        raise InvalidEnvelope(f"data content-type must be {JSON}, got {content_type!r}")
    if not value:
        raise InvalidEnvelope("the record has no value")
    try:
        message = kafka.KafkaMessage(headers=names, key=None, value=b"" if binary else value)
        if binary:
            cloud_event = kafka.from_binary(message, _FORMAT, _GivenCloudEvent)
        else:
            cloud_event = kafka.from_structured(message, _FORMAT, _GivenCloudEvent)
    except (BaseCloudEventException, ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
        raise InvalidEnvelope(f"not a CloudEvent: {error}") from None
    data = value if binary else cloud_event.get_data()
    if not binary and not isinstance(data, dict):
        raise InvalidEnvelope("the event data is not a JSON object")
    return Envelope(
        id=cloud_event.get_id(),
        type=cloud_event.get_type(),
        source=cloud_event.get_source(),
        subject=cloud_event.get_subject(),
        time=cloud_event.get_time(),
        data=data,
    )


def _json_error(value: bytes) -> str:
    try:
        json.loads(value)
    except (ValueError, UnicodeDecodeError) as error:
        return f"invalid JSON ({error})"
    return "valid JSON of another kind"


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> DecodedEvent:
    """Read, look up and validate a record: InvalidEnvelope, UnknownEventType or InvalidEvent."""
    envelope = decode_envelope(value, headers)
    model = model_for(envelope.type)
    try:
        if isinstance(envelope.data, bytes):
            event = model.model_validate_json(envelope.data)
        else:
            event = model.model_validate(envelope.data)
    except ValidationError as error:
        if any(e["type"] in ("json_invalid", "model_type") and not e["loc"] for e in error.errors()):
            raise InvalidEnvelope(
                f"the event data is not a JSON object: {_json_error(envelope.data)}"
            ) from None
        raise InvalidEvent(f"{envelope.type} is invalid: {error}") from None
    return DecodedEvent(envelope, event)
