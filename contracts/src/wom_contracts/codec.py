"""CloudEvents 1.0 over the Kafka protocol binding: binary mode out, binary or structured in.

The binding is written here rather than taken from the `cloudevents` SDK because it is the hot
path of every consumer: the SDK builds an event object, validates every attribute in Python and
parses `ce_time` with dateutil, some 20 µs a record before the data is looked at, more than the
validation of the data itself. This module reads the headers directly and lets pydantic-core
parse and validate the data straight from the bytes. It accepts and refuses exactly the records
the SDK and the pydantic models do, quirks included (`contracts/tests/test_fast_path.py` holds
it to them, both modes, attribute by attribute; the SDK stays in the tests as the reference),
but for three records the SDK reads by making something up:

- a `specversion` other than "1.0", or none, is refused: the SDK reads a 0.3 event as one and a
  record without the attribute as 1.0; the binding requires it, and only 1.0 is published;
- a record without an `id` is refused: the SDK invents a uuid4 each time it reads one, so a
  redelivered record would pass the inbox as a new event and have its effects twice;
- a record without a `time` has `Envelope.time` None: the SDK fills in the moment of reading.
"""

from __future__ import annotations

import json
import os
import re
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from dateutil.parser import isoparse
from pydantic import ValidationError

from wom_contracts.base import Event
from wom_contracts.registry import ContractError, model_for

__all__ = [
    "DecodedEvent",
    "Envelope",
    "EventIds",
    "InvalidEnvelope",
    "InvalidEvent",
    "KafkaRecord",
    "decode",
    "decode_envelope",
    "encode",
    "format_time",
]

JSON = "application/json"
STRUCTURED = "application/cloudevents+json"
SPECVERSION = "1.0"
_REQUIRED = ("id", "source", "type")
_OPTIONAL = ("datacontenttype", "dataschema", "subject", "time")
_KNOWN = frozenset(("specversion", *_REQUIRED, *_OPTIONAL))
# the SDK's `re.match(r"^[a-z0-9]+$", name)`: its `$` lets one trailing newline through
_EXTENSION_NAME = re.compile(r"[a-z0-9]+\n?")
# RFC 3339 as `datetime.fromisoformat` reads it exactly as dateutil's isoparse does; anything
# else (ISO 8601's other forms, hour 24, which isoparse reads as the next midnight, an offset's
# minutes over 59, which isoparse refuses) goes to isoparse itself, the SDK's parser
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)", re.ASCII
)
# the header names publishers write (lower case): found without lower-casing each name;
# ce_datacontenttype is left to the slow path (see `_binary_attributes`)
_ATTRIBUTE_OF = {f"ce_{name}": name for name in ("specversion", *_REQUIRED, "dataschema", "subject", "time")}
_SPECVERSION_HEADER = ("ce_specversion", SPECVERSION.encode())
_CONTENT_TYPE_HEADER = ("content-type", JSON.encode())
_STRUCTURED_HEADERS = [("content-type", STRUCTURED.encode())]


class InvalidEnvelope(ContractError, ValueError):
    """The record is not a readable CloudEvent with a JSON object as data."""

    reason = "invalid_envelope"


class InvalidEvent(ContractError, ValueError):
    """The CloudEvent's data does not validate against its model."""

    reason = "invalid_event"


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A record ready for a Kafka producer."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a microsecond a record to build
class Envelope:
    """The CloudEvents attributes of a consumed record, and its parsed data."""

    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    data: Any  # binary mode: the raw JSON bytes; structured mode: the parsed object


@dataclass(slots=True)
class DecodedEvent:
    """A consumed record: its envelope and the validated event."""

    envelope: Envelope
    event: Event


class EventIds:
    """Time-ordered event ids, 32 hex characters: the clock and the randomness are read once
    per batch (`EventIds()`), then a counter runs. Ids of one batch sort in the order they were
    made, batches by their millisecond; two processes never meet (48 random bits a batch)."""

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        millis = clock.time_ns() // 1_000_000
        self._prefix = f"{millis:012x}{os.urandom(6).hex()}"
        self._count = 0

    def next(self) -> str:
        """The next id."""
        self._count += 1
        return f"{self._prefix}{self._count:08x}"


def format_time(moment: datetime) -> str:
    """`moment` in UTC as the binding writes `ce_time`: RFC 3339 with a `Z`."""
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def encode(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    structured: bool = False,
) -> KafkaRecord:
    """`event` as a Kafka record: key = customer id, `ce_subject` = customer id, JSON data.

    Binary mode writes the headers in the order the SDK's `to_binary` does; structured mode the
    attributes and `data` as one JSON object, as its `to_structured` does.
    """
    event_id = event_id or EventIds().next()
    stamp = format_time(time or datetime.now(UTC))
    subject = event.customer_id
    if structured:
        document = {
            "id": event_id, "source": source, "type": event.event_type, "specversion": SPECVERSION,
            "time": stamp, "subject": subject, "datacontenttype": JSON,
            "data": event.model_dump(mode="json", exclude_none=True),
        }  # fmt: skip
        value = json.dumps(document).encode()
        return KafkaRecord(event.event_type, subject.encode(), value, list(_STRUCTURED_HEADERS))
    headers = [
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event.event_type.encode()),
        _SPECVERSION_HEADER,
        ("ce_time", stamp.encode()),
        ("ce_subject", subject.encode()),
        _CONTENT_TYPE_HEADER,
    ]
    value = event.__pydantic_serializer__.to_json(event, exclude_none=True)
    return KafkaRecord(event.event_type, subject.encode(), value, headers)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return datetime.fromisoformat(value)
    parsed: datetime = isoparse(value)  # the SDK's parser, for every other form it reads
    return parsed


def _check_attributes(attributes: dict[str, Any]) -> None:
    """The checks of the SDK's v1.0 event on its attributes, with its verdicts."""
    for name in _REQUIRED:
        value = attributes.get(name)
        if not value or not isinstance(value, str):
            raise InvalidEnvelope(f"not a CloudEvent: attribute {name!r} must be a non-empty string")
    if attributes.get("specversion") != SPECVERSION:
        raise InvalidEnvelope(f"not a CloudEvent: attribute 'specversion' must be {SPECVERSION!r}")
    for name in ("datacontenttype", "dataschema", "subject"):
        if name in attributes and (not attributes[name] or not isinstance(attributes[name], str)):
            raise InvalidEnvelope(f"not a CloudEvent: attribute {name!r} must be a non-empty string")
    if "time" in attributes and attributes["time"].tzinfo is None:
        raise InvalidEnvelope("not a CloudEvent: attribute 'time' must be timezone aware")
    for name in attributes:
        if name not in _KNOWN and (name == "data" or not _EXTENSION_NAME.fullmatch(name)):
            raise InvalidEnvelope(f"not a CloudEvent: invalid extension attribute name {name!r}")


def _binary_attributes(headers: Sequence[tuple[str, bytes | None]]) -> tuple[dict[str, Any], str | None]:
    """The attributes of a binary-mode record and its content-type header (None: no header), as
    the SDK reads its dict of headers: names lower-cased, the last of two of one name wins; and
    `content-type` and `ce_datacontenttype` both set `datacontenttype`, the name first seen
    later winning. Every header's value must be UTF-8, as the SDK decodes them: the last of
    each name, so an undecodable one is refused only if no header of its name follows."""
    attributes: dict[str, Any] = {}
    content_type = None
    content_type_wins = True
    undecodable: set[str] | None = None  # names whose last value is not UTF-8
    for name, raw in headers:
        try:
            text = raw.decode("utf-8") if raw else ""
        except UnicodeDecodeError:
            text = ""
            undecodable = undecodable or set()
            undecodable.add(name.lower())
        else:
            if undecodable:
                undecodable.discard(name.lower())
        attribute = _ATTRIBUTE_OF.get(name)
        if attribute is None:
            lower = name.lower()
            if lower == "content-type":
                content_type = text
                continue
            if not lower.startswith("ce_"):
                continue
            attribute = lower[3:]
            if attribute == "datacontenttype" and attribute not in attributes:
                content_type_wins = content_type is None
        attributes[attribute] = text
    if undecodable:
        raise ValueError(f"header {min(undecodable)!r} is not UTF-8")
    if "time" in attributes:
        attributes["time"] = _parse_time(attributes["time"])
    if content_type is not None and content_type_wins:
        attributes["datacontenttype"] = content_type
    return attributes, content_type


def _structured_attributes(value: bytes) -> tuple[dict[str, Any], Any]:
    try:
        attributes = pydantic_core.from_json(value)
    except ValueError:
        # what jiter refuses and the SDK's json reads (lone surrogates, deeper nesting, longer
        # numbers), read as the SDK does; past some 990 levels of nesting json's own verdict
        # hangs on the depth of the caller's stack, and is not matched
        attributes = json.loads(value.decode("utf-8"))
    if not isinstance(attributes, dict):
        raise InvalidEnvelope("not a CloudEvent: a structured record must be a JSON object")
    if "time" in attributes:
        attributes["time"] = _parse_time(attributes["time"])
    return attributes, attributes.pop("data", None)


def decode_envelope(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Envelope:
    """Read the CloudEvent of a record in binary or structured mode; InvalidEnvelope if it is not one.

    In binary mode `data` is the raw value (bytes), validated later straight from JSON; in
    structured mode it is the parsed `data` member.
    """
    if any(name[:3].lower() == "ce_" for name, _raw in headers):
        try:
            attributes, content_type = _binary_attributes(headers)
        except Exception as error:  # a stranger's bytes can provoke anything here: park them
            raise InvalidEnvelope(f"not a CloudEvent: {error}") from None
        media_type = (content_type or "").split(";")[0].strip()
        if media_type not in ("", JSON):
            raise InvalidEnvelope(f"data content-type must be {JSON}, got {media_type!r}")
        if not value:
            raise InvalidEnvelope("the record has no value")
        data: Any = value
    else:
        raw_type = None
        for name, raw in headers:  # the last one, as in the SDK's dict of headers
            if name.lower() == "content-type":
                raw_type = raw
        media_type = (raw_type or b"").decode("utf-8", "replace").split(";")[0].strip()
        if media_type != STRUCTURED:
            raise InvalidEnvelope("no ce_ headers and content-type is not application/cloudevents+json")
        if not value:
            raise InvalidEnvelope("the record has no value")
        try:
            attributes, data = _structured_attributes(value)
        except InvalidEnvelope:
            raise
        except Exception as error:
            raise InvalidEnvelope(f"not a CloudEvent: {error}") from None
        if not isinstance(data, dict):
            _check_attributes(attributes)
            raise InvalidEnvelope("the event data is not a JSON object")
    _check_attributes(attributes)
    return Envelope(
        attributes["id"],
        attributes["type"],
        attributes["source"],
        attributes.get("subject"),
        attributes.get("time"),
        data,
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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(event)'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidEvent(f"{envelope.type} is invalid: {problems}") from None
    return DecodedEvent(envelope, event)
