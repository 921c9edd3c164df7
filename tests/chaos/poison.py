"""Bad records: valid instances of the committed JSON Schemas (hypothesis-jsonschema), then broken;
plus garbage bytes, truncated JSON, wrong types, oversized values, unknown versions and missing
CloudEvents headers. A record counts as bad only if the contracts' own decoder refuses it.

The contracts' tests draw the same records (`contracts/tests/test_fast_path.py`), so this module
needs no more than the contracts and the storefront's record type."""

from __future__ import annotations

import json
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis_jsonschema._from_schema as jsonschema_strategies
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis_jsonschema import from_schema
from wom_contracts.codec import decode
from womctl.storefront import RawRecord

__all__ = ["BREAKAGES", "bad_records", "valid_instances"]

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"


class _LegacyMany:
    """The `many(...).more()` / `.reject()` protocol that hypothesis-jsonschema 0.23.1 (the latest)
    draws object properties with; hypothesis 6.170 replaced it with a context manager. Generation
    only: enough to draw valid instances, not to shrink them."""

    def __init__(self, data: Any, min_size: int, max_size: float, average_size: float) -> None:
        self.data, self.min_size, self.max_size = data, min_size, max_size
        self.p_continue = conjecture_utils._calc_p_continue(average_size - min_size, max_size - min_size)
        self.count = self.rejections = 0

    def more(self) -> bool:
        if self.count < self.min_size:
            go_on = True
        elif self.count >= self.max_size:
            go_on = False
        else:
            go_on = bool(self.data.draw_boolean(self.p_continue))
        self.count += go_on
        return go_on

    def reject(self) -> None:
        self.count -= 1
        self.rejections += 1
        if self.rejections > max(3, 2 * self.count):
            self.data.mark_invalid()


class _Compat:
    many = _LegacyMany


if not hasattr(conjecture_utils.many, "more"):
    jsonschema_strategies.cu = _Compat  # type: ignore[assignment]


def valid_instances(topic: str, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` instances that the topic's committed JSON Schema accepts."""
    schema = json.loads((SCHEMAS / f"{topic}.json").read_text())
    schema.pop("$id", None)
    _closed(schema)  # no made-up extra properties: faster, and what a real publisher sends
    found: list[dict[str, Any]] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(from_schema(schema))
    def collect(instance: dict[str, Any]) -> None:
        found.append(instance)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return found


def _closed(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _closed(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed(value)


def _headers(topic: str, key: str, *, ce_type: str | None = None) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"), ("ce_id", f"{key}-id".encode()), ("ce_source", b"chaos/poison"),
        ("ce_type", (ce_type or topic).encode()), ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("ce_subject", key.encode()), ("content-type", b"application/json"),
    ]  # fmt: skip


def _schema_of(topic: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{topic}.json").read_text()))


def _drop_required(rnd: random.Random, topic: str, data: dict[str, Any]) -> dict[str, Any]:
    required = _schema_of(topic).get("required", [])
    data = dict(data)
    data.pop(rnd.choice(required), None)
    return data


def _wrong_type(rnd: random.Random, topic: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    field = rnd.choice(_schema_of(topic).get("required", sorted(data)))
    value = data.get(field)
    data[field] = (
        "not a list" if isinstance(value, list) else rnd.choice([[{"nested": True}], [1, 2], {"x": 1}])
    )
    return data


def _oversized(rnd: random.Random, topic: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    field = rnd.choice(
        [f for f in _schema_of(topic).get("required", []) if f.endswith("_id")] or ["customer_id"]
    )
    data[field] = "X" * rnd.choice([65, 300, 5_001, 100_000])
    return data


def _out_of_range(rnd: random.Random, topic: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for field, value in data.items():
        if isinstance(value, dict) and "amount" in value:  # money
            data[field] = {**value, "amount": rnd.choice(["-3.00", "1e999", "NaN", "12.345678901234567890"])}
            return data
        if isinstance(value, int) and not isinstance(value, bool):
            data[field] = rnd.choice([-1, 10**12, -(10**12)])
            return data
        if field.endswith("_at"):
            data[field] = rnd.choice(["2026-13-45T99:00:00Z", "yesterday", "2026-11-21T12:00:00"])
            return data
    data["customer_id"] = "bad id with spaces/and/slashes"
    return data


def _json_record(change: Callable[[random.Random, str, dict[str, Any]], dict[str, Any]]) -> Any:
    def make(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
        return RawRecord(
            topic, key.encode(), json.dumps(change(rnd, topic, data)).encode(), _headers(topic, key)
        )

    return make


def _unknown_version(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
    version = rnd.choice([".v9", ".v2", ".v0", ""])
    return RawRecord(topic, key.encode(), json.dumps(data).encode(),
                     _headers(topic, key, ce_type=topic.rsplit(".", 1)[0] + version))  # fmt: skip


def _garbage(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
    value = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 400)))
    headers = _headers(topic, key) if rnd.random() < 0.5 else []
    return RawRecord(topic, key.encode(), value, headers)


def _truncated(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
    value = json.dumps(data).encode()
    return RawRecord(
        topic, key.encode(), value[: rnd.randint(1, max(1, len(value) - 1))], _headers(topic, key)
    )


def _not_an_object(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
    value = rnd.choice([json.dumps([data]), "42", '"a string"', "null", "true"]).encode()
    return RawRecord(topic, key.encode(), value, _headers(topic, key))


def _missing_headers(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
    headers = _headers(topic, key)
    drop = rnd.choice([{"ce_id"}, {"ce_type"}, {"ce_source"}, {"ce_specversion"}, {h for h, _ in headers}])
    return RawRecord(topic, key.encode(), json.dumps(data).encode(), [h for h in headers if h[0] not in drop])


def _bad_structured(rnd: random.Random, topic: str, data: dict[str, Any], key: str) -> RawRecord:
    envelope = {"specversion": "1.0", "id": f"{key}-id", "source": "chaos/poison", "type": topic,
                "data": rnd.choice([[data], "text", None])}  # fmt: skip
    if rnd.random() < 0.5:
        envelope.pop("id")
    return RawRecord(topic, key.encode(), json.dumps(envelope).encode(),
                     [("content-type", b"application/cloudevents+json")])  # fmt: skip


BREAKAGES: dict[str, Callable[[random.Random, str, dict[str, Any], str], RawRecord]] = {
    "drop_required": _json_record(_drop_required),
    "wrong_type": _json_record(_wrong_type),
    "oversized": _json_record(_oversized),
    "out_of_range": _json_record(_out_of_range),
    "unknown_version": _unknown_version,
    "garbage_bytes": _garbage,
    "truncated_json": _truncated,
    "not_an_object": _not_an_object,
    "missing_headers": _missing_headers,
    "bad_structured": _bad_structured,
}


def _refused(record: RawRecord) -> bool:
    try:
        decode(record.value, record.headers)
    except Exception:
        return True
    return False


def bad_records(
    count: int, seed: int, run: str, topics: Iterable[str]
) -> tuple[list[RawRecord], Counter[str]]:
    """`count` records the contracts refuse, over `topics` (every topic a service consumes), keyed
    `<run>-p<n>`; and how many of each breakage. A breakage the decoder still accepts (a value
    pydantic may coerce) is drawn again."""
    rnd = random.Random(seed)
    topics = sorted(topics)
    per_topic = min(30, max(5, count // (len(topics) * 10)))
    instances = {topic: valid_instances(topic, per_topic, seed) for topic in topics}
    records: list[RawRecord] = []
    kinds: Counter[str] = Counter()
    while len(records) < count:
        topic = rnd.choice(topics)
        if not instances[topic]:
            continue
        kind = rnd.choice(sorted(BREAKAGES))
        record = BREAKAGES[kind](rnd, topic, rnd.choice(instances[topic]), f"{run}-p{len(records):05d}")
        if _refused(record):
            records.append(record)
            kinds[kind] += 1
        else:
            kinds["drawn_again"] += 1
    return records, kinds
