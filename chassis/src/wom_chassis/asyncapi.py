"""The AsyncAPI document of a service, from what it really runs: the topics of its handlers, its
consumer group, the events of its domain and its dead-letter topic. Served at `GET /asyncapi.json`;
`womctl contracts asyncapi` commits the same under contracts/asyncapi/."""

from __future__ import annotations

from typing import Any

from wom_contracts import EVENT_TYPES
from wom_contracts.asyncapi import ServiceInterface, add_channel, document, published_by

from wom_chassis.consumer import EventHandlers
from wom_chassis.deadletters import DLQ_HEADER_PREFIX
from wom_chassis.settings import ServiceSettings

__all__ = ["DEAD_LETTER_HEADERS", "service_document"]

DEAD_LETTER_HEADERS = {
    "reason": "a stable code: invalid_envelope, unknown_event_type, invalid_event, …",
    "error": "the error's text (at most 4,000 characters)",
    "source.topic": "the topic the record was consumed from",
    "source.partition": "its partition",
    "source.offset": "its offset",
    "service": "the service that parked it",
    "failed_at": "when, RFC 3339",
    "attempts": "how many times it was tried",
}
"""The headers a dead letter gets (`dlq.<name>`) beside the original record's own."""


def _dead_letter_message() -> dict[str, Any]:
    headers = {
        DLQ_HEADER_PREFIX + name: {"type": "string", "description": description}
        for name, description in DEAD_LETTER_HEADERS.items()
    }
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A record the service could not process: its key, value and headers as consumed, "
        "with the reason (womctl dlq list|show|replay)",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": sorted(headers),
            "properties": headers,
            "additionalProperties": {"type": "string", "description": "the original record's headers"},
        },
        "payload": {"description": "the original record's value, byte for byte (not always JSON)"},
    }


def service_document(settings: ServiceSettings, handlers: EventHandlers[Any]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the service these settings and handlers make."""
    name = settings.service_name
    group = settings.consumer_group or f"wom-{name}"
    interface = ServiceInterface(name, group, handlers.topics, published_by(name, EVENT_TYPES))
    doc = document(interface)
    operation = ("sendDeadLetter", "send", None)
    add_channel(doc, settings.dead_letter_topic, "DeadLetter", _dead_letter_message(), operation)
    return doc
