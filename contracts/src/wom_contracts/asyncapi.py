"""AsyncAPI 3.0 documents: what one service consumes and publishes, on which topics, with which
payloads (the committed JSON Schemas) and which CloudEvents headers.

The chassis builds a running service's document from its handlers and settings and serves it at
`GET /asyncapi.json`; `womctl contracts asyncapi` (run by `make schemas`) writes each service's to
`contracts/asyncapi/<service>.json`. Only what the contracts know is here; what the chassis adds to
every service (its dead-letter topic) it adds itself, with `add_channel`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from wom_contracts.codec import JSON, SPECVERSION
from wom_contracts.registry import model_for
from wom_contracts.schemas import schema_of

__all__ = [
    "ASYNCAPI_DIR",
    "ASYNCAPI_VERSION",
    "DEVELOPMENT_BOOTSTRAP",
    "KAFKA_BINDING_VERSION",
    "ServiceInterface",
    "add_channel",
    "channel_id",
    "cloudevents_headers",
    "document",
    "published_by",
    "render_document",
]

ASYNCAPI_DIR = Path(__file__).resolve().parents[2] / "asyncapi"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEVELOPMENT_BOOTSTRAP = "127.0.0.1:9092"
"""The broker `make up` starts (and every service's default KAFKA_BOOTSTRAP_SERVERS)."""

_KEY = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_.:-]{1,64}$",
    "description": "the customer id: everything about one customer is on one partition, in order",
}
_HEADERS_ID = "CloudEventsHeaders"


@dataclass(frozen=True)
class ServiceInterface:
    """What a service shows of itself on the broker: consumed and published event types (topic
    = event type), its consumer group and the version of its contracts."""

    service: str
    consumer_group: str
    consumes: Sequence[str]
    publishes: Sequence[str]
    version: str = package_version("wom-contracts")


def published_by(service: str, event_types: Iterable[str]) -> list[str]:
    """The event types a service publishes: those of its own domain (`<service>.…`), as every
    service designs its events under its own prefix."""
    return sorted(event_type for event_type in event_types if event_type.split(".", 1)[0] == service)


def channel_id(topic: str) -> str:
    """The channel's key in a document (AsyncAPI ids admit no dots): `a.b.v1` → `a_b_v1`."""
    return topic.replace(".", "_")


def cloudevents_headers() -> dict[str, Any]:
    """The Kafka headers of a binary-mode CloudEvent as the codec writes them (`ce_*`,
    `content-type`) and the relay adds (W3C trace context); strings on the wire."""
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "CloudEvents 1.0, Kafka protocol binding, binary content mode",
        "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "content-type"],
        "properties": {
            "ce_id": {**text, "description": "the event id; consumers process each id once"},
            "ce_source": {**text, "description": "who published it: `wom/<service>` for a service"},
            "ce_type": {**text, "description": "the event type, which is also the topic"},
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_time": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"},
            "ce_subject": {**text, "description": "the customer id (also the record key)"},
            "ce_dataschema": {"type": "string", "format": "uri"},
            "content-type": {"type": "string", "const": JSON},
            "traceparent": {"type": "string", "description": "W3C trace context of the cause"},
            "tracestate": {"type": "string", "description": "W3C trace context vendor state"},
        },
    }


def _blank(interface: ServiceInterface, bootstrap: str) -> dict[str, Any]:
    name = interface.service
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:wom:{name}",
        "info": {
            "title": f"wom {name}",
            "version": interface.version,
            "description": (
                f"The events the {name} service consumes (consumer group `{interface.consumer_group}`) "
                "and publishes, one topic per event type and major version, record key = customer "
                "id, each a CloudEvent in binary mode with its data as JSON. Generated from "
                "wom-contracts; do not edit."
            ),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": JSON,
        "servers": {
            "kafka": {
                "host": bootstrap,
                "protocol": "kafka",
                "description": "the development broker (`make up`); production sets KAFKA_BOOTSTRAP_SERVERS",
            }
        },
        "channels": {},
        "operations": {},
        "components": {"schemas": {_HEADERS_ID: cloudevents_headers()}, "messages": {}},
    }


def _schemas_of(event_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The committed schema of an event with its `$defs` lifted out, refs pointing into
    `#/components/schemas`, so that every schema is resolvable inside the one document."""
    schema = schema_of(event_type)
    definitions = schema.pop("$defs", {})
    schema.pop("$id")
    return _lift(schema), {name: _lift(body) for name, body in definitions.items()}


def _lift(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value.replace("#/$defs/", "#/components/schemas/", 1)
            if key == "$ref" and isinstance(value, str)
            else _lift(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_lift(item) for item in node]
    return node


def _add_schema(doc: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    if schemas.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are both named {name!r}: rename one of the models")


def add_channel(
    doc: dict[str, Any],
    topic: str,
    message_id: str,
    message: dict[str, Any],
    operation: tuple[str, str, dict[str, Any] | None],
) -> None:
    """Add a topic, its one message and one operation (id, `send` or `receive`, its Kafka
    binding or None) to `doc`; a topic already present gets only the operation."""
    channel = channel_id(topic)
    if channel not in doc["channels"]:
        doc["components"]["messages"][message_id] = message
        doc["channels"][channel] = {
            "address": topic,
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
    operation_id, action, binding = operation
    entry: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message_id}"}],
    }
    if binding is not None:
        entry["bindings"] = {"kafka": {**binding, "bindingVersion": KAFKA_BINDING_VERSION}}
    doc["operations"][operation_id] = entry


def _event_message(doc: dict[str, Any], event_type: str) -> tuple[str, dict[str, Any]]:
    model = model_for(event_type)
    payload, definitions = _schemas_of(event_type)
    for name, schema in definitions.items():
        _add_schema(doc, name, schema)
    _add_schema(doc, model.__name__, payload)
    message = {
        "name": event_type,
        "title": model.__name__,
        "summary": (model.__doc__ or event_type).strip().splitlines()[0],
        "contentType": JSON,
        "headers": {"$ref": f"#/components/schemas/{_HEADERS_ID}"},
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "bindings": {"kafka": {"key": _KEY, "bindingVersion": KAFKA_BINDING_VERSION}},
    }
    return model.__name__, message


def document(interface: ServiceInterface, *, bootstrap: str = DEVELOPMENT_BOOTSTRAP) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of a service's events: `receive` with its group for each
    consumed type, `send` for each published one."""
    doc = _blank(interface, bootstrap)
    group = {"groupId": {"type": "string", "enum": [interface.consumer_group]}}
    for action, event_types, binding in (
        ("receive", interface.consumes, group),
        ("send", interface.publishes, None),
    ):
        for event_type in sorted(event_types):
            message_id, message = _event_message(doc, event_type)
            add_channel(doc, event_type, message_id, message, (f"{action}{message_id}", action, binding))
    return doc


def render_document(doc: dict[str, Any]) -> str:
    """The committed text of a document: sorted keys, two-space indent, final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
