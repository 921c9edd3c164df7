"""`womctl contracts asyncapi`: the committed documents are what the services, as wired, make
(regenerated in memory and compared), on topics that deploy/topics.yaml defines."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner
from wom_contracts.asyncapi import render_document
from womctl.asyncapi import ASYNCAPI_DIR, document_of
from womctl.cli import app
from womctl.up import SERVICES

TOPICS = Path(__file__).resolve().parents[2] / "topics.yaml"


@cache
def _document(service: str) -> dict[str, Any]:
    return document_of(service)  # building a service takes a second: once for both tests


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_committed_document_is_what_the_service_makes(service: str) -> None:
    path = ASYNCAPI_DIR / f"{service}.json"
    assert path.exists(), f"{path} missing: run `make schemas` and commit"
    assert path.read_text() == render_document(_document(service)), (
        f"{path.name} differs from what {service} consumes and publishes: run `make schemas`, commit"
    )


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_channel_is_a_topic_of_the_definition(service: str) -> None:
    topics = set(yaml.safe_load(TOPICS.read_text())["topics"])
    document = _document(service)
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert f"{service}.dlq" in addresses
    assert addresses <= topics, f"not in deploy/topics.yaml: {sorted(addresses - topics)}"


def test_the_command_writes_one_document_per_service(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["contracts", "asyncapi", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{name}.json" for name in SERVICES)
    assert (tmp_path / "rewards.json").read_text() == (ASYNCAPI_DIR / "rewards.json").read_text()
