"""`womctl kafka principals`: the grants as a table, as Strimzi users and as kafka-acls.sh commands."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner
from womctl import principals
from womctl.cli import app


def test_the_acl_commands_give_each_principal_its_grants_and_no_more() -> None:
    options = ["--output", "acls", "--bootstrap", "kafka:9094", "--command-config", "/a.properties"]
    result = CliRunner().invoke(app, ["kafka", "principals", *options])
    assert result.exit_code == 0, result.output
    people = principals.principals()
    given: dict[str, set[tuple[str, str, str, str]]] = {}
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        head = [
            "kafka-acls.sh",
            "--bootstrap-server",
            "kafka:9094",
            "--command-config",
            "/a.properties",
            "--add",
        ]
        assert words[:6] == head
        pairs = list(zip(words[6::2], words[7::2], strict=True))
        values = {option: [value for o, value in pairs if o == option] for option, _ in pairs}
        (user,) = values.pop("--allow-principal")
        (pattern,) = values.pop("--resource-pattern-type")
        operations = values.pop("--operation")
        ((resource, names),) = values.items()  # one kind of resource per command
        for name in names:
            for operation in operations:
                grant = (resource.removeprefix("--"), name, pattern, operation)
                given.setdefault(user.removeprefix("User:"), set()).add(grant)
    expected = {
        person.name: {(g.resource, g.name, g.pattern, op) for g in person.grants for op in g.operations}
        for person in people
    }
    assert given == expected
    rewards = given["wom-rewards-kafka"]
    assert ("topic", "rewards.dlq", "literal", "Write") in rewards
    assert ("group", "wom-rewards", "literal", "Read") in rewards
    assert not {grant for grant in rewards if grant[3] == "Write" and not grant[1].startswith("rewards.")}
    assert len(result.stdout.splitlines()) < sum(len(p.grants) for p in people) / 3  # a JVM each


def test_acls_need_the_brokers_unless_written_for_compose() -> None:
    refused = CliRunner().invoke(app, ["kafka", "principals", "--output", "acls"])
    assert refused.exit_code == 2 and "--bootstrap is required" in refused.output
    script = CliRunner().invoke(
        app, ["kafka", "principals", "--output", "acls", "--bootstrap", "localhost:9094"]
    )
    assert script.exit_code == 0
    assert "--command-config" not in script.stdout  # the compose broker's loopback: no login
    assert script.stdout in principals.ACLS_FILE.read_text()


def test_strimzi_output_is_the_committed_users_file_and_write_rewrites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = CliRunner().invoke(app, ["kafka", "principals", "--output", "strimzi"])
    assert shown.exit_code == 0 and shown.stdout == principals.USERS_FILE.read_text()
    target = tmp_path / "users.yaml"
    monkeypatch.setattr(principals, "USERS_FILE", target)
    written = CliRunner().invoke(
        app, ["kafka", "principals", "--output", "strimzi", "--write", "--cluster", "main"]
    )
    assert written.exit_code == 0, written.output
    assert target.read_text() == principals.render_users(principals.principals(), "main")
    assert "strimzi.io/cluster: main" in target.read_text()


def test_the_table_names_every_principal_and_an_unknown_output_is_refused() -> None:
    table = CliRunner().invoke(app, ["kafka", "principals"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for person in principals.principals():
        assert person.name in table.stdout
    refused = CliRunner().invoke(app, ["kafka", "principals", "--output", "yaml"])
    assert refused.exit_code == 2 and "'yaml' is not one of" in refused.output
