"""`womctl token new`: a token shown once, and the entry a service admits it by."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner
from wom_chassis import ServiceSettings
from wom_chassis.auth import Credentials, read_tokens_file, token_digest
from womctl.cli import app


def test_a_new_token_and_its_entry_are_printed_and_the_entry_admits_the_token() -> None:
    result = CliRunner().invoke(app, ["token", "new", "--name", "support-desk", "--scope", "customers:read"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    token = lines[1]
    assert len(token) >= 43 and token_digest(token) in result.stdout  # 32 random bytes; the digest
    assert (
        '[[tokens]]\nname = "support-desk"' in result.stdout
        and 'scopes = ["customers:read"]' in result.stdout
    )


def test_entries_added_to_a_file_are_what_a_service_reads(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    issued = []
    for name, scopes in (
        ("support-desk", ["customers:read", "reviews:decide"]),
        ("shop", ["redemptions:write"]),
    ):
        options = [option for scope in scopes for option in ("--scope", scope)]
        result = CliRunner().invoke(app, ["token", "new", "--name", name, *options, "--add-to", str(path)])
        assert result.exit_code == 0, result.output
        issued.append(result.stdout.strip())  # the token alone on stdout, for a script
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [e.name for e in read_tokens_file(path)] == ["support-desk", "shop"]
    credentials = Credentials.of(ServiceSettings(service_name="x", api_tokens_file=path))
    desk, shop = (credentials.identify(token) for token in issued)
    assert desk is not None and desk.name == "support-desk" and desk.allows("reviews:decide")
    assert shop is not None and shop.allows("redemptions:write") and not shop.allows("customers:read")


def test_a_bad_name_or_scope_is_refused_and_the_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text("# ours\n", encoding="utf-8")
    for arguments, problem in (
        (["--name", "Support Desk", "--scope", "customers:read"], "name"),
        (["--name", "desk", "--scope", "customers:write"], "unknown scopes"),
    ):
        result = CliRunner().invoke(app, ["token", "new", *arguments, "--add-to", str(path)])
        assert result.exit_code == 2 and problem in result.output, result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("tokens = [", encoding="utf-8")
    result = CliRunner().invoke(app, ["token", "new", "--name", "d", "--scope", "*", "--add-to", str(broken)])
    assert result.exit_code == 1 and "left as it was" in result.output and "not TOML" in result.output
    assert broken.read_text(encoding="utf-8") == "tokens = ["
    assert path.read_text(encoding="utf-8") == "# ours\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "broken.toml",
        "tokens.toml",
    ]
