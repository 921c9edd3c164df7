"""The AsyncAPI documents: what the builder makes of the contracts, and the committed documents
validated by the official AsyncAPI CLI (`@asyncapi/cli`, pinned in package.json)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from wom_contracts import EVENT_TYPES, encode
from wom_contracts.asyncapi import (
    ASYNCAPI_DIR,
    ServiceInterface,
    cloudevents_headers,
    document,
    published_by,
)
from wom_contracts.samples import sample
from wom_contracts.schemas import schema_of

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "node_modules" / ".bin" / "asyncapi"
COMMITTED = sorted(ASYNCAPI_DIR.glob("*.json"))
INTERFACE = ServiceInterface(
    "rewards",
    "wom-rewards",
    consumes=["commerce.order.completed.v1", "feedback.case.resolved.v1"],
    publishes=published_by("rewards", EVENT_TYPES),
)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_every_reference_resolves_inside_the_document() -> None:
    doc = document(INTERFACE)
    assert _refs(doc), "the builder makes no references: this test would prove nothing"
    for ref in _refs(doc):
        _resolve(doc, ref)


def test_each_payload_is_the_committed_schema_with_its_definitions_in_components() -> None:
    doc = document(INTERFACE)
    payload = _resolve(doc, doc["components"]["messages"]["OrderCompletedV1"]["payload"]["$ref"])
    committed = json.loads(json.dumps(schema_of("commerce.order.completed.v1")).replace("#/$defs/", "#/x/"))
    definitions = committed.pop("$defs")
    del committed["$id"]
    assert json.dumps(payload) == json.dumps(committed).replace("#/x/", "#/components/schemas/")
    assert {"Money", "OrderItem"} <= set(definitions)
    for name, schema in definitions.items():
        lifted = json.loads(
            json.dumps(doc["components"]["schemas"][name]).replace("/components/schemas/", "/x/")
        )
        assert lifted == schema


def test_operations_receive_with_the_group_and_send_what_the_service_publishes() -> None:
    operations = document(INTERFACE)["operations"]
    receive = operations["receiveCaseResolvedV1"]
    assert receive["action"] == "receive"
    assert receive["bindings"]["kafka"]["groupId"] == {"type": "string", "enum": ["wom-rewards"]}
    sent = sorted(name for name, op in operations.items() if op["action"] == "send")
    assert sent == sorted(f"send{EVENT_TYPES[t].__name__}" for t in EVENT_TYPES if t.startswith("rewards."))


def test_the_headers_schema_accepts_what_the_codec_writes_and_refuses_a_record_without_ce_id() -> None:
    record = encode(sample("rewards.reward.granted.v1"), source="wom/rewards")
    headers = {name: value.decode() for name, value in record.headers}
    jsonschema.validate(headers, cloudevents_headers())
    del headers["ce_id"]
    with pytest.raises(jsonschema.ValidationError, match="ce_id"):
        jsonschema.validate(headers, cloudevents_headers())


def test_two_models_of_one_name_with_different_schemas_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import wom_contracts.asyncapi as builder

    real = builder.schema_of

    def clashing(event_type: str) -> dict[str, Any]:
        schema = real(event_type)
        if event_type == "feedback.case.resolved.v1":
            schema["$defs"]["Money"] = {"type": "string"}
        return schema

    monkeypatch.setattr(builder, "schema_of", clashing)
    with pytest.raises(ValueError, match="'Money'"):
        document(INTERFACE)


# --- the official CLI ---------------------------------------------------------------------------


def _validate(path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ASYNCAPI_METRICS_CONFIG_PATH": str(config)}  # no analytics calls
    return subprocess.run(
        [str(CLI), "validate", str(path), "--fail-severity", "warn"],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every committed document and one broken one, validated by the CLI in parallel (one file a
    run, some seconds each)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the AsyncAPI CLI cannot run")
    if not CLI.exists():
        pytest.skip("node_modules has no AsyncAPI CLI: run `make test` (npm ci --ignore-scripts)")
    directory = tmp_path_factory.mktemp("asyncapi")
    config = directory / "analytics.json"
    config.write_text(json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "wom"}))
    broken = json.loads(COMMITTED[0].read_text())
    operation = next(iter(broken["operations"].values()))
    operation["channel"] = {"$ref": "#/channels/no_such_topic"}  # an operation on a channel nobody declares
    (directory / "broken.json").write_text(json.dumps(broken))
    paths = {"broken": directory / "broken.json"} | {path.stem: path for path in COMMITTED}
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        results = pool.map(lambda path: _validate(path, config), paths.values())
        return dict(zip(paths, results, strict=True))


def test_one_document_per_service_is_committed() -> None:
    assert [path.stem for path in COMMITTED] == ["feedback", "outreach", "referrals", "rewards"]


@pytest.mark.parametrize("path", COMMITTED, ids=[path.stem for path in COMMITTED])
def test_the_asyncapi_cli_finds_no_warning_in_a_committed_document(
    path: Path, validations: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = validations[path.stem]
    assert result.returncode == 0, f"{path.name}:\n{result.stdout}\n{result.stderr}"
    assert "is valid" in result.stdout


def test_the_asyncapi_cli_fails_a_broken_document(
    validations: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = validations["broken"]
    assert result.returncode != 0
    assert "no_such_topic" in result.stdout + result.stderr
