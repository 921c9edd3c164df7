"""Contract tests: committed schemas, compatibility, the CloudEvents binding, validation errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from wom_contracts import (
    EVENT_TYPES,
    InvalidEnvelope,
    InvalidEvent,
    OrderCompletedV1,
    UnknownEventType,
    all_topics,
    decode,
    encode,
)
from wom_contracts.compatibility import incompatibilities
from wom_contracts.samples import sample
from wom_contracts.schemas import SCHEMA_DIR, render_schema, schema_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_committed_schema_matches_the_model(event_type: str) -> None:
    path = SCHEMA_DIR / f"{event_type}.json"
    assert path.exists(), f"{path} missing: run `make schemas` and commit"
    assert path.read_text() == render_schema(event_type), (
        f"{path.name} differs from the model: run `make schemas`, check compatibility, commit"
    )


def test_one_schema_file_per_event_type() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(EVENT_TYPES)
    assert all_topics() == sorted(EVENT_TYPES)


def _committed_at_head(path: Path) -> dict | None:  # type: ignore[type-arg]
    try:
        shown = subprocess.run(
            ["git", "show", f"HEAD:{path.relative_to(ROOT).as_posix()}"],
            cwd=ROOT, capture_output=True, check=True,
        )  # fmt: skip
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_models_are_compatible_with_the_last_committed_schema(event_type: str) -> None:
    committed = _committed_at_head(SCHEMA_DIR / f"{event_type}.json")
    if committed is None:
        pytest.skip(f"{event_type}: no committed schema at HEAD yet (new type or not a git checkout)")
    problems = incompatibilities(committed, schema_of(event_type))
    assert problems == [], f"incompatible change to {event_type}: publish a new major version instead"


BASE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "total": {"$ref": "#/$defs/Money"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["id", "total"],
    "$defs": {
        "Money": {"type": "object", "properties": {"amount": {"type": "string"}}, "required": ["amount"]}
    },
}


def changed(**edit: object) -> dict:  # type: ignore[type-arg]
    schema = json.loads(json.dumps(BASE))
    for path, value in edit.items():
        *parents, leaf = path.split("__")
        node = schema
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(leaf)
        else:
            node[leaf] = value
    return schema


def test_adding_an_optional_field_is_compatible() -> None:
    new = changed(properties__channel={"type": "string"})
    assert incompatibilities(BASE, new) == []
    assert incompatibilities(BASE, changed(properties__id={"type": "string", "title": "Id"})) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"properties__note": None}, "note: removed"),
        ({"properties__id": {"type": "integer"}}, "id: type changed"),
        ({"$defs__Money__properties__amount": {"type": "number"}}, "total.amount: type changed"),
        ({"required": ["id", "total", "note"]}, "note: optional field became required"),
        # consumers built on the old model refuse a record that omits it
        ({"required": ["id"]}, "total: required field became optional"),
        ({"$defs__Money__required": []}, "total.amount: required field became optional"),
        (
            {"properties__channel": {"type": "string"}, "required": ["id", "total", "channel"]},
            "channel: new required field",
        ),
        ({"properties__note": {"type": "string"}}, "note: type changed"),
    ],
)
def test_incompatible_changes_are_named(edit: dict, message: str) -> None:  # type: ignore[type-arg]
    problems = incompatibilities(BASE, changed(**edit))
    assert any(p.startswith(message) for p in problems), problems


@pytest.mark.parametrize("structured", [False, True], ids=["binary", "structured"])
@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_round_trip(event_type: str, structured: bool) -> None:
    event = sample(event_type)
    record = encode(event, source="wom/tests", event_id="evt-42", structured=structured)
    assert record.topic == event_type and record.key == b"ana"
    headers = dict(record.headers)
    if structured:
        assert headers == {"content-type": b"application/cloudevents+json"}
        body = json.loads(record.value)
        assert (body["id"], body["type"], body["subject"], body["specversion"]) == (
            "evt-42", event_type, "ana", "1.0")  # fmt: skip
    else:
        assert set(headers) == {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time",
                                "ce_subject", "content-type"}  # fmt: skip
        assert headers["ce_type"] == event_type.encode() and headers["ce_subject"] == b"ana"
        assert headers["content-type"] == b"application/json"
        assert headers["ce_time"].endswith(b"Z")
    decoded = decode(record.value, record.headers)
    assert decoded.event == event
    assert (decoded.envelope.id, decoded.envelope.source) == ("evt-42", "wom/tests")


def _record(**data_changes: object) -> tuple[bytes, list[tuple[str, bytes]]]:
    record = encode(sample("commerce.order.completed.v1"), source="t")
    data = json.loads(record.value)
    data.update(data_changes)
    return json.dumps(data).encode(), record.headers


def test_headers_are_read_case_insensitively() -> None:
    value, headers = _record()
    assert decode(value, [(k.upper(), v) for k, v in headers]).event.customer_id == "ana"


def test_unknown_fields_are_ignored() -> None:
    value, headers = _record(loyalty_campaign="winter")
    assert isinstance(decode(value, headers).event, OrderCompletedV1)


@pytest.mark.parametrize(
    ("value", "drop", "error", "words"),
    [
        (b"{not json", None, InvalidEnvelope, "invalid JSON"),
        (b'"a string"', None, InvalidEnvelope, "not a JSON object"),
        (None, None, InvalidEnvelope, "no value"),
        (b"{}", "ce_type", InvalidEnvelope, "CloudEvent"),
        (b"{}", "all", InvalidEnvelope, "no ce_ headers"),
    ],
)
def test_unreadable_envelopes(value, drop, error, words) -> None:  # type: ignore[no-untyped-def]
    _, headers = _record()
    if drop == "all":
        headers = []
    elif drop:
        headers = [(k, v) for k, v in headers if k != drop]
    with pytest.raises(error, match=words):
        decode(value, headers)


def test_unknown_type() -> None:
    value, headers = _record()
    headers = [(k, b"commerce.cart.abandoned.v1" if k == "ce_type" else v) for k, v in headers]
    with pytest.raises(UnknownEventType, match=r"commerce\.cart\.abandoned\.v1"):
        decode(value, headers)


@pytest.mark.parametrize(
    ("event_type", "change", "field"),
    [
        ("feedback.response.submitted.v1", {"score": 11}, "out of range 0–10 for kind nps"),
        ("feedback.response.submitted.v1", {"kind": "csat", "score": 0}, "out of range 1–5"),
        ("feedback.response.submitted.v1", {"comment": "x" * 5001}, "comment"),
        ("commerce.order.completed.v1", {"total": {"amount": "-1", "currency": "EUR"}}, "total.amount"),
        ("commerce.order.completed.v1", {"total": {"amount": 9.99, "currency": "EUR"}}, "never a float"),
        ("commerce.order.completed.v1", {"total": {"amount": "9.99", "currency": "eur"}}, "total.currency"),
        ("commerce.order.completed.v1", {"order_id": "bad id!"}, "order_id"),
        ("commerce.order.completed.v1", {"completed_at": "2026-11-20T12:00:00"}, "completed_at"),
        ("commerce.customer.registered.v1", {"email": "not-an-email"}, "email"),
        ("commerce.customer.registered.v1", {"timezone": "Mars/Base"}, "unknown IANA time zone"),
        ("commerce.customer.registered.v1", {"locale": "english please"}, "locale"),
    ],
)
def test_invalid_events_name_the_field(event_type: str, change: dict, field: str) -> None:  # type: ignore[type-arg]
    record = encode(sample(event_type), source="t")
    data = {**json.loads(record.value), **change}
    with pytest.raises(InvalidEvent, match=field.replace(".", r"\.")):
        decode(json.dumps(data).encode(), record.headers)


def test_times_are_normalised_to_utc() -> None:
    value, headers = _record(completed_at="2026-11-20T14:30:00+02:00")
    event = decode(value, headers).event
    assert isinstance(event, OrderCompletedV1)
    assert event.completed_at.isoformat() == "2026-11-20T12:30:00+00:00"


def test_the_tier_order_is_the_contracts_and_an_unknown_tier_counts_as_an_upgrade() -> None:
    from wom_contracts import KEY_CLIENT, MEMBER, REPEAT_BUYER, TIER_ORDER, is_upgrade

    assert TIER_ORDER == (MEMBER, REPEAT_BUYER, KEY_CLIENT) == ("member", "repeat_buyer", "key_client")
    assert (
        is_upgrade(None, REPEAT_BUYER)
        and is_upgrade(MEMBER, KEY_CLIENT)
        and is_upgrade(REPEAT_BUYER, KEY_CLIENT)
    )
    assert not is_upgrade(KEY_CLIENT, REPEAT_BUYER) and not is_upgrade(REPEAT_BUYER, MEMBER)
    assert not is_upgrade(MEMBER, MEMBER)
    assert is_upgrade("gold", MEMBER) and is_upgrade(MEMBER, "platinum")  # a tier added later


def test_the_committed_schema_holds_the_score_range_of_each_kind() -> None:
    """The committed JSON Schema refuses what the model refuses: a score outside its kind's range
    (NPS 0-10, CSAT and review 1-5), and accepts what it accepts."""
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError
    from wom_contracts import ResponseSubmittedV1
    from wom_contracts.feedback import SCORE_RANGES

    validator = Draft202012Validator(
        json.loads((SCHEMA_DIR / "feedback.response.submitted.v1.json").read_text())
    )
    base = {"customer_id": "c1", "response_id": "r1", "submitted_at": "2026-12-01T10:00:00Z"}
    for kind, (low, high) in SCORE_RANGES.items():
        for score, fits in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
            answer = {**base, "kind": kind, "score": score}
            try:
                ResponseSubmittedV1.model_validate(answer)
                model_accepts = True
            except ValidationError:
                model_accepts = False
            assert model_accepts is fits, (kind, score)
            assert validator.is_valid(answer) is fits, (kind, score)


def test_the_committed_schema_holds_the_time_zones_the_model_knows() -> None:
    """The schema lists the time zones of the pinned tzdata, exactly those the model takes; a
    machine's own names (Debian's `localtime`) are neither."""
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError
    from wom_contracts import CustomerRegisteredV1
    from wom_contracts.types import TIMEZONES

    schema = json.loads((SCHEMA_DIR / "commerce.customer.registered.v1.json").read_text())
    validator = Draft202012Validator(schema)
    base = json.loads(
        CustomerRegisteredV1.model_validate(sample("commerce.customer.registered.v1")).model_dump_json()
    )
    assert "Europe/Chisinau" in TIMEZONES and len(TIMEZONES) > 500
    for zone, fits in (("Europe/Chisinau", True), ("UTC", True), ("Mars/Base", False), ("localtime", False)):
        customer = {**base, "timezone": zone}
        try:
            CustomerRegisteredV1.model_validate(customer)
            model_accepts = True
        except ValidationError:
            model_accepts = False
        assert model_accepts is fits, zone
        assert validator.is_valid(customer) is fits, zone
