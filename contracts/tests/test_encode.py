"""`encode` writes what the SDK's `to_binary` / `to_structured` write (`reference_codec.encode`):
the same headers, in the same order, the same value; and what it writes reads back as it was."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from wom_contracts import EVENT_TYPES, Event, decode, encode
from wom_contracts.samples import sample

from . import reference_codec as reference

EVENT_ID = "0190f2a1b2c3d4e5f6a7b8c9d0e1f2a3"
TIMES = [
    datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 1, 12, 0, tzinfo=UTC),  # no fraction: isoformat writes none
    datetime(2026, 12, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 12, 1, 6, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2026, 12, 1, 12, 0),  # naive: local time, as `astimezone` reads it
]


def _non_ascii() -> list[Event]:
    registered, submitted, order = (
        sample(t).model_dump()
        for t in (
            "commerce.customer.registered.v1",
            "feedback.response.submitted.v1",
            "commerce.order.completed.v1",
        )
    )
    return [
        EVENT_TYPES["commerce.customer.registered.v1"].model_validate(
            {**registered, "first_name": "Zoë Ștefănescu", "last_name": "Łukasz 李 Ñúñez"}
        ),
        EVENT_TYPES["feedback.response.submitted.v1"].model_validate(
            {**submitted, "comment": 'Очень хорошо 👍 — «merci» \u2028 "quoted" \\ \t'}
        ),
        EVENT_TYPES["commerce.order.completed.v1"].model_validate(
            {**order, "items": [{**order["items"][0], "name": "Кружка ☕ 𝄞"}]}
        ),
    ]


EVENTS = [sample(t) for t in sorted(EVENT_TYPES)] + _non_ascii()
IDS = [f"{e.event_type}{'-non-ascii' if n >= len(EVENT_TYPES) else ''}" for n, e in enumerate(EVENTS)]


@pytest.mark.parametrize("time", TIMES, ids=str)
@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_binary_mode_is_what_the_sdk_writes(event: Event, time: datetime) -> None:
    ours = encode(event, source="wom/tests", event_id=EVENT_ID, time=time)
    sdk = reference.encode(event, source="wom/tests", event_id=EVENT_ID, time=time)
    assert ours.headers == sdk.headers  # names, order and values
    assert ours.value == sdk.value
    assert (ours.topic, ours.key) == (sdk.topic, sdk.key) == (event.event_type, event.customer_id.encode())


@pytest.mark.parametrize("time", TIMES, ids=str)
@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_structured_mode_is_what_the_sdk_writes(event: Event, time: datetime) -> None:
    ours = encode(event, source="wom/tests", event_id=EVENT_ID, time=time, structured=True)
    sdk = reference.encode(event, source="wom/tests", event_id=EVENT_ID, time=time, structured=True)
    assert ours.headers == sdk.headers == [("content-type", b"application/cloudevents+json")]
    assert json.loads(ours.value) == json.loads(sdk.value)
    assert list(json.loads(ours.value)) == list(json.loads(sdk.value))  # the members in the same order
    assert (ours.topic, ours.key) == (sdk.topic, sdk.key)


@pytest.mark.parametrize("structured", [False, True], ids=["binary", "structured"])
def test_the_id_and_time_made_up_when_not_given(structured: bool) -> None:
    before = datetime.now(UTC)
    ours = encode(sample("commerce.order.completed.v1"), source="wom/tests", structured=structured)
    envelope = decode(ours.value, ours.headers).envelope
    assert re.fullmatch("[0-9a-f]{32}", envelope.id)
    assert envelope.time is not None and before <= envelope.time <= datetime.now(UTC)
    if not structured:
        sdk = reference.encode(sample("commerce.order.completed.v1"), source="wom/tests")
        assert [name for name, _ in ours.headers] == [name for name, _ in sdk.headers]


@pytest.mark.parametrize("structured", [False, True], ids=["binary", "structured"])
@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_round_trips(event: Event, structured: bool) -> None:
    at = TIMES[2]
    ours = encode(event, source="wom/tests", event_id=EVENT_ID, time=at, structured=structured)
    sdk = reference.encode(event, source="wom/tests", event_id=EVENT_ID, time=at, structured=structured)
    for decoder, record in [(decode, ours), (reference.decode, ours), (decode, sdk)]:
        decoded = decoder(record.value, record.headers)
        assert decoded.event == event
        envelope = decoded.envelope
        assert (envelope.id, envelope.type, envelope.source, envelope.subject, envelope.time) == (
            EVENT_ID, event.event_type, "wom/tests", event.customer_id, at
        )  # fmt: skip
        assert envelope.time is not None and envelope.time.utcoffset() == timedelta(0)
