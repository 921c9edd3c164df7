"""The comparison the fast-path tests make, and the records they start from: what a consumer sees of
a record through the codec must be what it sees through the reference (`reference_codec`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from wom_contracts import ContractError, decode, encode
from wom_contracts.samples import sample

from . import reference_codec as reference

__all__ = [
    "AT",
    "ORDER",
    "ORDER_DATA",
    "REGISTRATION",
    "STRUCTURED_HEADERS",
    "Headers",
    "assert_same",
    "order_headers",
    "outcome",
    "structured_order",
]

Headers = list[tuple[str, bytes | None]]
Decoder = Callable[[bytes | None, Sequence[tuple[str, bytes | None]]], Any]
Outcome = tuple[Any, ...]

AT = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
ORDER = encode(sample("commerce.order.completed.v1"), source="wom/tests", event_id="evt-1", time=AT)
REGISTRATION = encode(
    sample("commerce.customer.registered.v1"), source="wom/tests", event_id="evt-2", time=AT
)
ORDER_DATA = json.loads(ORDER.value)
STRUCTURED_HEADERS: Headers = [("content-type", b"application/cloudevents+json")]


def outcome(decoder: Decoder, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Outcome:
    """What a consumer sees of a record: its envelope and event, or the reason it is refused."""
    try:
        decoded = decoder(value, headers)
    except ContractError as error:
        return ("refused", error.reason)
    except Exception:  # the consumer parks any other exception as an unreadable envelope
        if decoder is decode:
            raise  # the codec itself raises nothing but its reasons
        return ("refused", "invalid_envelope")
    envelope, time = decoded.envelope, decoded.envelope.time
    offset = None if time is None else time.utcoffset()  # the same instant at another offset differs
    attributes = (envelope.id, envelope.type, envelope.source, envelope.subject, time, offset)
    return ("accepted", attributes, decoded.event.model_dump())


def assert_same(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Outcome:
    """The codec's outcome of a record, after checking that it is the reference's."""
    expected = outcome(reference.decode, value, headers)
    assert outcome(decode, value, headers) == expected, (value, headers)
    return expected


def order_headers(*, drop: Sequence[str] = (), **changes: bytes | None) -> Headers:
    """The order's headers without `drop`, with `changes` (`ce_id=…`) in place or added at the end."""
    headers: Headers = [(k, changes.get(k, v)) for k, v in ORDER.headers if k not in drop]
    return headers + [(k, v) for k, v in changes.items() if k not in dict(ORDER.headers)]


def structured_order(**changes: Any) -> bytes:
    """The order in structured mode, its members changed (a value of `...` drops one)."""
    record = encode(
        sample("commerce.order.completed.v1"), source="wom/tests", event_id="evt-1", time=AT, structured=True
    )
    document = {**json.loads(record.value), **changes}
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()
