"""The hand-written CloudEvents binding (`wom_contracts.codec.decode`) accepts and refuses exactly
the records the SDK and the pydantic models do (`reference_codec`): the same envelope and event
when both accept, the same reason when both refuse (`equivalence.assert_same`).

Records drawn from every committed JSON Schema, valid and broken in the ten ways `make chaos`
breaks them (`tests.chaos.poison`); then envelopes by hand, here, and generated
(`test_fast_path_generated.py`). The codec's deliberate differences (specversion 1.0, id given,
no time made up) are built into the reference and asserted against the bare SDK at the end.
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from wom_contracts import EVENT_TYPES, decode

from tests.chaos.poison import BREAKAGES, valid_instances

from .equivalence import (
    AT,
    ORDER,
    ORDER_DATA,
    REGISTRATION,
    STRUCTURED_HEADERS,
    Headers,
    assert_same,
    order_headers,
    outcome,
    structured_order,
)

SEED = 16
PER_SCHEMA = 6

# --- records from the committed schemas, valid and broken -----------------------------------------


def _sdk_records(topic: str, data: dict[str, Any], key: str) -> list[tuple[bytes, Headers]]:
    """`data` as the SDK writes it, in binary and in structured mode."""
    attributes = {
        "id": f"{key}-id", "source": "wom/tests", "type": topic, "specversion": "1.0", "time": AT,
        "subject": str(data.get("customer_id") or key), "datacontenttype": "application/json",
    }  # fmt: skip
    binary = kafka.to_binary(CloudEvent(dict(attributes), json.dumps(data).encode()), JSONFormat())
    structured = kafka.to_structured(CloudEvent(dict(attributes), data), JSONFormat())
    return [(m.value, list(m.headers.items())) for m in (binary, structured)]


@pytest.mark.parametrize("topic", sorted(EVENT_TYPES))
def test_records_from_the_schemas_valid_and_broken(topic: str) -> None:
    seen: Counter[str] = Counter()
    for n, data in enumerate(valid_instances(topic, PER_SCHEMA, SEED)):
        key = f"{topic}-{n}"
        for value, headers in _sdk_records(topic, data, key):
            seen["valid " + assert_same(value, headers)[0]] += 1
        for kind in sorted(BREAKAGES):
            record = BREAKAGES[kind](random.Random(f"{key}/{kind}"), topic, data, key)
            seen[f"{kind} {assert_same(record.value, record.headers)[0]}"] += 1
    assert seen["valid accepted"] > 0, seen  # not a comparison of refusals only


# --- binary mode ----------------------------------------------------------------------------------


def test_the_records_encoded_are_accepted() -> None:
    assert assert_same(ORDER.value, ORDER.headers)[0] == "accepted"
    assert assert_same(REGISTRATION.value, REGISTRATION.headers)[0] == "accepted"


@pytest.mark.parametrize(
    "headers",
    [
        [(k.upper(), v) for k, v in ORDER.headers],
        [(k.title(), v) for k, v in ORDER.headers],
        [("CE_ID" if k == "ce_id" else k, v) for k, v in ORDER.headers],
        [(k, v) for k, v in ORDER.headers if k != "content-type"],
        # two headers of one name: the last wins, whatever its case
        [*ORDER.headers, ("ce_id", b"evt-2")],
        [*ORDER.headers, ("CE_ID", b"evt-2")],
        [*ORDER.headers, ("ce_id", b"")],
        [("ce_time", b"garbage"), *ORDER.headers],
        [*ORDER.headers, ("ce_time", b"garbage")],
        [*ORDER.headers, ("content-type", b"text/plain")],
        [("content-type", b"text/plain"), *ORDER.headers],
        [*ORDER.headers, ("Content-Type", b"text/plain")],
        # content-type and ce_datacontenttype both set datacontenttype: the name first seen later wins
        [*ORDER.headers, ("ce_datacontenttype", b"")],
        [("ce_datacontenttype", b""), *ORDER.headers],
        [*ORDER.headers, ("CE_DATACONTENTTYPE", None)],
        [*ORDER.headers, ("ce_datacontenttype", b"text/plain")],
        [("ce_datacontenttype", b"x"), *ORDER.headers, ("ce_datacontenttype", b"")],
        # every header is decoded as UTF-8, ce_ or not, and may be null
        [*ORDER.headers, ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01")],
        [*ORDER.headers, ("traceparent", b"\xff\xfe")],
        [*ORDER.headers, ("traceparent", None)],
        [*ORDER.headers, ("x-\u00e9", b"caf\xc3\xa9")],
        [*ORDER.headers, ("ce_\u0130d", b"x")],  # İ lower-cases to two characters
        # only the last value of a name is decoded
        [("ce_id", b"\xff"), *ORDER.headers],
        [("CE_ID", b"\xff"), *ORDER.headers],
        [*ORDER.headers, ("ce_id", b"\xff")],
        [("traceparent", b"\xff"), *ORDER.headers, ("Traceparent", b"00")],
        [("traceparent", b"00"), *ORDER.headers, ("traceparent", b"\xff")],
        [("content-type", b"\xff"), *ORDER.headers],
    ],
)
def test_header_names_and_duplicates(headers: Headers) -> None:
    assert_same(ORDER.value, headers)


@pytest.mark.parametrize("name", [*dict(ORDER.headers), "ce_dataschema", "ce_foo", "traceparent"])
@pytest.mark.parametrize("raw", [None, b"", b"\xff", b"caf\xe9", b"\xc3\xa9", b" ", b"\x00"])
def test_header_values_null_empty_and_not_utf8(name: str, raw: bytes | None) -> None:
    assert_same(ORDER.value, order_headers(**{name: raw}))


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/json", b"application/json; charset=utf-8", b"application/json;charset=UTF-8",
        b" application/json ", b"application/json;", b"APPLICATION/JSON", b"text/json",
        b"application/problem+json", b"application/cloudevents+json", b"", None, b"\xff",
        b"application/json\xff",
    ],
)  # fmt: skip
def test_content_type(content_type: bytes | None) -> None:
    assert_same(ORDER.value, order_headers(**{"content-type": content_type}))


TIMES = [
    "2026-12-01T12:00:00Z", "2026-12-01T12:00:00+00:00", "2026-12-01T12:00:00-00:00",
    "2026-12-01T14:00:00+02:00", "2026-12-01T06:30:00-05:30", "2026-12-01T12:00:00+23:59",
    *(f"2026-12-01T12:00:00.{'123456789'[:n]}Z" for n in range(1, 10)),
    "2026-12-01T12:00:00,5Z", "2026-12-01t12:00:00Z", "2026-12-01T12:00:00z", "2026-12-01 12:00:00Z",
    "2026-12-01", "2026-12", "2026", "20261201T120000Z", "20261201T120000.5+0200", "2026-12-01T12:00Z",
    "2026-12-01T12Z", "2026-12-01T12:00:00+0200", "2026-12-01T12:00:00+02", "2026-W49-2T12:00:00Z",
    "2026-335T12:00:00Z", "2026-12-01T12:00:00", "2026-12-01T24:00:00Z", "2026-12-01T24:00:01Z",
    "2026-12-01T12:60:00Z", "2026-12-01T12:00:60Z", "2026-02-30T12:00:00Z", "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "2026-12-01T12:00:00+24:00", "2026-12-01T12:00:00+05:60",
    "2026-12-01T12:00:00+05:99", "2026-12-01T12:00:00.Z", "2026-12-01T12:00:00Z ",
    " 2026-12-01T12:00:00Z", "２０２６-12-01T12:00:00Z", "2026-12-01T12:00:00\u00a0Z", "yesterday", "",
    "1764590400", "null",
]  # fmt: skip


@pytest.mark.parametrize("time", TIMES)
def test_time_forms(time: str) -> None:
    assert_same(ORDER.value, order_headers(ce_time=time.encode()))
    assert_same(structured_order(time=time), STRUCTURED_HEADERS)


@pytest.mark.parametrize(
    "name",
    [
        "ce_foo", "ce_foo42", "CE_FOO", "ce_Foo", "ce_foo-bar", "ce_foo_bar", "ce_foo.bar", "ce_data", "ce_",
        "ce_foo\n", "ce_foo\n\n", "ce_\n", "ce_caf\u00e9", "ce_partitionkey", "ce_dataschema",
        "ce_datacontenttype", "ce_content-type", "CE_CONTENT-TYPE", "ce_specversion2", "ce_ id", "ce_id ",
        "ce__id",
    ],
)  # fmt: skip
@pytest.mark.parametrize("raw", [b"x", b"", b"application/json"])
def test_extension_attribute_names(name: str, raw: bytes) -> None:
    assert_same(ORDER.value, [*ORDER.headers, (name, raw)])


@pytest.mark.parametrize("name", ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_subject"])
@pytest.mark.parametrize("raw", [b"", None, b"0.3", b"1.0", b"1", b"1.0 ", b"commerce.order.completed.v2"])
def test_attributes_missing_empty_or_odd(name: str, raw: bytes | None) -> None:
    assert_same(ORDER.value, order_headers(**{name: raw}))
    assert_same(ORDER.value, order_headers(drop=[name]))


@pytest.mark.parametrize(
    "value",
    [
        None, b"", b" ", b"{", b"{}", b"[]", b"null", b"42", b'"text"', b"\xff\xfe", b"\xef\xbb\xbf{}",
        b'{"customer_id": "ana"}', ORDER.value + b" x", ORDER.value + b"\n", b"[" * 300 + b"]" * 300,
    ],
)  # fmt: skip
def test_binary_values(value: bytes | None) -> None:
    assert_same(value, ORDER.headers)


# --- structured mode ------------------------------------------------------------------------------

ATTRIBUTES = ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema")
DATA_BASE64 = base64.b64encode(ORDER.value).decode()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        *({name: ...} for name in ATTRIBUTES),
        *({name: ""} for name in ATTRIBUTES),
        *({name: None} for name in ATTRIBUTES),
        {"id": 42}, {"id": 4.2}, {"id": True}, {"id": ["evt-1"]}, {"source": 1}, {"type": {"a": 1}},
        {"specversion": "0.3"}, {"specversion": 1.0}, {"specversion": "1"}, {"time": 1764590400},
        {"time": 1764590400.5}, {"time": True}, {"time": ["2026-12-01T12:00:00Z"]}, {"subject": 7},
        {"datacontenttype": "text/plain"}, {"datacontenttype": 1}, {"dataschema": "urn:x"},
        {"data": ...}, {"data": None}, {"data": []}, {"data": [ORDER_DATA]}, {"data": "text"},
        {"data": 42}, {"data": True}, {"data": json.dumps(ORDER_DATA)}, {"data": {}},
        {"data": ..., "data_base64": DATA_BASE64}, {"data": None, "data_base64": DATA_BASE64},
        {"data_base64": DATA_BASE64}, {"data": ..., "data_base64": "not base64!"},
        {"data": ..., "data_base64": 42}, {"data_base64": None},
        {"foo": "x"}, {"foo42": {"nested": [1]}}, {"Foo": "x"}, {"foo-bar": "x"}, {"foo_bar": "x"},
        {"": "x"}, {"foo\n": "x"}, {"foo\n\n": "x"}, {"caf\u00e9": "x"}, {"partitionkey": "ana"},
        {"datacontentencoding": "base64"}, {"type": "commerce.order.completed.v9"},
        {"type": "commerce.cart.abandoned.v1"},
    ],
)  # fmt: skip
def test_structured_attributes(changes: dict[str, Any]) -> None:
    assert_same(structured_order(**changes), STRUCTURED_HEADERS)


def _with_member(member: bytes) -> bytes:
    return structured_order().replace(b'"id": "evt-1"', member)


@pytest.mark.parametrize(
    "value",
    [
        b"[]", b'"text"', b"42", b"null", b"true", b"{", b"", None, b"\xff",
        b"\xef\xbb\xbf" + structured_order(), structured_order() + b" x", structured_order() + b" \n",
        '{"id": "evt-1"}'.encode("utf-16"), _with_member(b'"id": "a", "id": "evt-1"'),
        _with_member(b'"id": "\\ud800"'), _with_member(b'"id": "\\ud83d\\ude00"'),
        _with_member(b'"id": "caf\xc3\xa9"'), _with_member(b'"id": "caf\xe9"'),
        # what jiter refuses and json reads: deeper nesting, longer numbers, lone surrogates
        _with_member(b'"id": "evt-1", "deep": ' + b"[" * 300 + b"]" * 300),
        _with_member(b'"id": "evt-1", "deep": ' + b"[" * 3000 + b"]" * 3000),
        _with_member(b'"id": "evt-1", "n": ' + b"9" * 5000),
        _with_member(b'"id": "evt-1", "n": ' + b"9" * 5000 + b".5"),
        _with_member(b'"id": "evt-1", "n": "\\udc00"'),
        _with_member(b'"id": "evt-1", "n": NaN'), _with_member(b'"id": "evt-1", "n": -Infinity'),
        _with_member(b'"id": "evt-1", "n": 1e999'),
    ],
)  # fmt: skip
def test_structured_values(value: bytes | None) -> None:
    assert_same(value, STRUCTURED_HEADERS)


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", b"application/cloudevents+json")],
        [("CONTENT-TYPE", b"application/cloudevents+json; charset=utf-8")],
        [("content-type", b"application/cloudevents+json"), ("content-type", b"text/plain")],
        [("content-type", b"text/plain"), ("content-type", b"application/cloudevents+json")],
        [("content-type", b"application/cloudevents+json"), ("content-type", None)],
        [("content-type", b"application/cloudevents+json\xff")],
        [("content-type", b"application/json")],
        [("content-type", b"Application/CloudEvents+JSON")],
        [],
        [*STRUCTURED_HEADERS, ("traceparent", b"\xff")],
        [*STRUCTURED_HEADERS, ("ce_id", b"evt-1")],  # any ce_ header: binary mode
        [*STRUCTURED_HEADERS, ("CE_X", None)],
    ],
)
def test_structured_content_types(headers: Headers) -> None:
    assert_same(structured_order(), headers)


# --- the data, in both modes ----------------------------------------------------------------------

ITEM = ORDER_DATA["items"][0]
AMOUNTS = (1e999, "NaN", "1e999", "1" * 5000, 10**30, -1, "-0.00", "1E+2")


@pytest.mark.parametrize(
    "changes",
    [
        *({"total": {"amount": amount, "currency": "EUR"}} for amount in AMOUNTS),
        {"items": [{**ITEM, "quantity": 10**30}]},
        {"items": [{**ITEM, "quantity": 2.0}]}, {"items": [{**ITEM, "quantity": "2"}]},
        {"items": [{**ITEM, "quantity": True}]}, {"channel": "\ud800"}, {"note": "\udc00"},
        {"order_id": "\ud83d\ude00"}, {"customer_id": 42}, {"customer_id": None}, {"extra": float("nan")},
        {"completed_at": "2026-11-20T12:30:00"}, {"completed_at": 1764590400},
        {"completed_at": "2026-11-20"}, {"completed_at": "2026-11-20T12:30:00.1234567891Z"},
        {"referral_code": None},
    ],
)  # fmt: skip
def test_data_in_both_modes(changes: dict[str, Any]) -> None:
    data = {**ORDER_DATA, **changes}
    assert_same(json.dumps(data).encode(), ORDER.headers)
    assert_same(structured_order(data=data), STRUCTURED_HEADERS)


# --- the codec's deliberate differences from the bare SDK -----------------------------------------


def _bare_sdk(value: bytes, headers: Headers) -> Any:
    """The record as the SDK alone reads it, its version detected, nothing adapted."""
    message = kafka.KafkaMessage(headers={k.lower(): v or b"" for k, v in headers}, key=None, value=value)
    return kafka.from_kafka(message, JSONFormat())


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (ORDER.value, order_headers(ce_specversion=b"0.3")),
        (ORDER.value, order_headers(drop=["ce_specversion"])),
        (structured_order(specversion="0.3"), STRUCTURED_HEADERS),
        (structured_order(specversion=...), STRUCTURED_HEADERS),
    ],
)
def test_only_specversion_1_0_is_read(value: bytes, headers: Headers) -> None:
    """The SDK reads a 0.3 event as one, and a record without specversion as 1.0; the binding
    requires the attribute and only 1.0 is published, so the codec refuses both."""
    assert _bare_sdk(value, headers).get_id() == "evt-1"
    assert outcome(decode, value, headers) == ("refused", "invalid_envelope")


@pytest.mark.parametrize(
    ("value", "headers"),
    [(ORDER.value, order_headers(drop=["ce_id"])), (structured_order(id=...), STRUCTURED_HEADERS)],
)
def test_a_record_without_an_id_is_refused(value: bytes, headers: Headers) -> None:
    """The SDK invents a uuid4 for a record without an id, a new one at each read: a redelivered
    record would pass the inbox as a new event and have its effects twice."""
    assert _bare_sdk(value, headers).get_id() != _bare_sdk(value, headers).get_id()
    assert outcome(decode, value, headers) == ("refused", "invalid_envelope")


@pytest.mark.parametrize(
    ("value", "headers"),
    [(ORDER.value, order_headers(drop=["ce_time"])), (structured_order(time=...), STRUCTURED_HEADERS)],
)
def test_a_record_without_a_time_has_none(value: bytes, headers: Headers) -> None:
    """The SDK fills in the moment of reading; the codec says the record has no time."""
    before = datetime.now(UTC)
    assert _bare_sdk(value, headers).get_time() >= before
    assert decode(value, headers).envelope.time is None
