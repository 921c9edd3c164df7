"""Generated envelopes through the codec and the reference (`test_fast_path.py` has the records
drawn from the schemas and those by hand): header lists, structured documents, data and times."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from wom_contracts import encode
from wom_contracts.samples import sample

from .equivalence import (
    ORDER,
    ORDER_DATA,
    REGISTRATION,
    STRUCTURED_HEADERS,
    Headers,
    assert_same,
    order_headers,
    structured_order,
)

GENERATED = settings(max_examples=300, deadline=None, derandomize=True, database=None)

HEADER_NAMES = [
    *dict(ORDER.headers), "CE_ID", "Ce_Time", "Content-Type", "ce_datacontenttype", "ce_dataschema",
    "ce_data", "ce_", "ce_foo", "ce_foo\n", "ce_foo-bar", "ce_content-type", "traceparent",
]  # fmt: skip
HEADER_VALUES = [
    *dict(ORDER.headers).values(), None, b"", b"\xff", b"0.3", b"2026-12-01T12:00:00",
    b"application/json; charset=utf-8", b"text/plain", b"commerce.customer.registered.v1",
]  # fmt: skip
NAMES = st.sampled_from(HEADER_NAMES) | st.text(max_size=6).map("ce_".__add__) | st.text(max_size=8)
VALUES = st.sampled_from(HEADER_VALUES) | st.binary(max_size=8) | st.text(max_size=30).map(str.encode)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),  # lone surrogates
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
MEMBERS = [
    "id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema", "data",
    "data_base64", "foo", "Foo", "foo\n", "",
]  # fmt: skip
MEMBER_VALUES = [
    "evt-1", "1.0", "0.3", "2026-12-01T12:00:00+01:00", "application/json", "", ORDER_DATA,
    base64.b64encode(ORDER.value).decode(),
]  # fmt: skip


@GENERATED
@given(st.data())
def test_generated_header_lists(data: st.DataObject) -> None:
    headers: Headers = list(data.draw(st.permutations(ORDER.headers)))
    for _ in range(data.draw(st.integers(0, 3))):
        del headers[data.draw(st.integers(0, len(headers) - 1))]
    for _ in range(data.draw(st.integers(0, 4))):
        headers.insert(data.draw(st.integers(0, len(headers))), (data.draw(NAMES), data.draw(VALUES)))
    value = data.draw(
        st.sampled_from([ORDER.value, REGISTRATION.value, b"{}", b"[]", b"", None]) | st.binary()
    )
    assert_same(value, headers)


@GENERATED
@given(
    st.dictionaries(
        st.sampled_from(MEMBERS) | st.text(max_size=6),
        st.sampled_from(MEMBER_VALUES) | JSON_VALUES,
        max_size=4,
    ),
    st.sets(st.sampled_from(["id", "source", "type", "specversion", "time", "subject", "data"]), max_size=2),
)
def test_generated_structured_documents(changes: dict[str, Any], dropped: set[str]) -> None:
    assert_same(structured_order(**changes, **dict.fromkeys(dropped - set(changes), ...)), STRUCTURED_HEADERS)


@GENERATED
@given(JSON_VALUES, st.sampled_from(["channel", "payment_fingerprint", "extra"]))
def test_generated_data(value: Any, field: str) -> None:
    for data in (value, {**ORDER_DATA, field: value}):
        assert_same(json.dumps(data).encode(), ORDER.headers)
        assert_same(structured_order(data=data), STRUCTURED_HEADERS)


def _digits(low: int, high: int, width: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:0{width}d}")


def _one_of(*texts: str) -> st.SearchStrategy[str]:
    return st.sampled_from(texts)


# RFC 3339 and ISO 8601 around it: each part in and just out of range, separators or none
TIME_TEXTS = st.builds(
    lambda *parts: "".join(parts),
    _digits(0, 10_000, 4), _one_of("-", ""), _digits(0, 13, 2), _one_of("-", ""), _digits(0, 32, 2),
    _one_of("T", "t", " ", ""), _digits(0, 25, 2), _one_of(":", ""), _digits(0, 61, 2), _one_of(":", ""),
    _digits(0, 61, 2), _one_of("", ".") | st.from_regex(r"[.,][0-9]{1,10}", fullmatch=True),
    _one_of("", "Z", "z") | st.from_regex(r"[+-]([0-2][0-9]|3[0-9])(:?[0-6][0-9])?", fullmatch=True),
)  # fmt: skip


@GENERATED
@given(TIME_TEXTS | st.text(max_size=30))
def test_generated_times(time: str) -> None:
    assert_same(ORDER.value, order_headers(ce_time=time.encode()))
    assert_same(structured_order(time=time), STRUCTURED_HEADERS)


TIER_CHANGED = encode(
    sample("rewards.tier.changed.v1"), source="wom/tests", event_id="evt-3", structured=True
)
NUMBERS = st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@GENERATED
@given(NUMBERS)
def test_generated_numbers_in_structured_mode(number: str) -> None:
    """jiter reads a structured record where json would (the codec falls back on json only where
    jiter refuses one), so what it reads must be what json reads: a float field, `percentile`."""
    value = TIER_CHANGED.value.replace(b'"percentile": 93.5', f'"percentile": {number}'.encode())
    assert value != TIER_CHANGED.value
    assert_same(value, STRUCTURED_HEADERS)
