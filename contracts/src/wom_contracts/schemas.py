"""JSON Schemas of every event, committed under contracts/schemas/ for non-Python publishers.

uv run python -m wom_contracts.schemas          # (re)write the files
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wom_contracts.registry import EVENT_TYPES

__all__ = ["SCHEMA_DIR", "render_schema", "schema_of", "write_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_of(event_type: str) -> dict[str, Any]:
    """The JSON Schema of an event's data, as publishers must produce it."""
    model = EVENT_TYPES[event_type]
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"https://wom.dev/schemas/{event_type}.json"
    schema["x-event-type"] = event_type
    schema["x-topic"] = event_type
    return schema


def render_schema(event_type: str) -> str:
    """The committed text of an event's schema: sorted keys, two-space indent, final newline."""
    return json.dumps(schema_of(event_type), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write one file per event type; remove none (a retired type keeps its file)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in sorted(EVENT_TYPES):
        path = directory / f"{event_type}.json"
        path.write_text(render_schema(event_type))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas():
        print(path.relative_to(SCHEMA_DIR.parent))
