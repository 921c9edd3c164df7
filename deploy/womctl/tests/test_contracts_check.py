"""`womctl contracts check`: the models against the committed JSON Schemas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner
from wom_contracts import EVENT_TYPES
from womctl.cli import app
from womctl.contracts import SCHEMA_DIR, check_contracts, schemas_at_revision, schemas_in

ORDER = "commerce.order.completed.v1"


def committed_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, directory)
    return directory


def edit(directory: Path, event_type: str, **properties: dict) -> None:  # type: ignore[type-arg]
    path = directory / f"{event_type}.json"
    schema = json.loads(path.read_text())
    schema["properties"].update(properties)
    schema["required"] = [*schema["required"], *properties]
    path.write_text(json.dumps(schema))


def test_the_models_match_their_committed_schemas() -> None:
    result = CliRunner().invoke(app, ["contracts", "check"])
    assert result.exit_code == 0, result.output
    models = len(EVENT_TYPES)
    assert result.stdout.startswith(f"ok: {models} event models compatible with their schemas at HEAD")


def test_the_schemas_at_a_git_revision_are_read_from_git() -> None:
    committed = schemas_at_revision("HEAD")
    assert committed.keys() == schemas_in(SCHEMA_DIR).keys() and ORDER in committed


def test_an_incompatible_change_fails_with_what_breaks(tmp_path: Path) -> None:
    # the committed schema has a required field the model does not: as if the model dropped it
    schemas = committed_copy(tmp_path)
    edit(schemas, ORDER, loyalty_id={"type": "string"})
    result = CliRunner().invoke(app, ["contracts", "check", "--schemas", str(schemas)])
    assert result.exit_code == 1
    assert f"{ORDER}: INCOMPATIBLE with its schema at {schemas}:\n  loyalty_id: removed\n" in result.stdout
    assert "new major version" in result.stdout


def test_a_schema_file_that_differs_from_its_model_is_reported_even_when_compatible(tmp_path: Path) -> None:
    schemas = committed_copy(tmp_path)
    path = schemas / f"{ORDER}.json"
    path.write_text(path.read_text().replace('"title": "Money"', '"title": "Cash"', 1))  # same shape
    report = check_contracts(schemas_in(SCHEMA_DIR), schemas)
    assert report.stale == [ORDER] and not report.incompatible and not report.ok


def test_new_and_retired_event_types_are_named_but_do_not_fail(tmp_path: Path) -> None:
    committed = schemas_in(SCHEMA_DIR)
    committed["commerce.cart.abandoned.v1"] = committed.pop(ORDER)
    report = check_contracts(committed)
    assert report.ok and report.new == [ORDER] and report.retired == ["commerce.cart.abandoned.v1"]
