"""Each service, started as deployed with WOM_ENV anything but dev and its secrets left as
shipped, refuses to start: exit status 2 and one line naming every variable to set, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from wom_testkit import bound

OWN_SECRETS = {
    "referrals": ["REFERRALS_HASH_SECRET is the shipped development value"],
    "rewards": [],
    "outreach": ["OUTREACH_UNSUBSCRIBE_SECRET is the shipped development value"],
    "feedback": [
        "FEEDBACK_SESSION_SECRET is the shipped development value",
        "FEEDBACK_SEARCH_SECRET is the shipped development value",
        "FEEDBACK_INTAKE_SECRET is 5 bytes",
    ],
}


@pytest.mark.parametrize("service", sorted(OWN_SECRETS))
def test_a_service_with_shipped_secrets_refuses_to_start(service: str, tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "API_TOKEN" and not key.endswith("_SECRET") and key != "WOM_ENV"
    }
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "FEEDBACK_INTAKE_SECRET": "short",
    }
    started = subprocess.run(
        [sys.executable, "-c", f"from {service}.app import main; main()"],
        env=env, capture_output=True, text=True, timeout=bound(60), cwd=tmp_path,
    )  # fmt: skip
    assert started.returncode == 2, started.stderr[-2000:]
    assert "Traceback" not in started.stderr
    refusal = [line for line in started.stderr.splitlines() if line.startswith("wom: refusing to start")]
    assert len(refusal) == 1, started.stderr[-2000:]
    for problem in ["no API credential: set API_TOKENS_FILE", *OWN_SECRETS[service]]:
        assert problem in refusal[0]
    assert not (tmp_path / "db.sqlite").exists()  # refused before it touched anything


def test_a_tokens_file_with_a_mistake_stops_a_service_in_any_mode(tmp_path: Path) -> None:
    """A tokens file is read at start-up: an entry it cannot admit is named, even under WOM_ENV=dev."""
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        '[[tokens]]\nname = "desk"\nsha256 = "' + "a" * 64 + '"\nscopes = ["customers:write"]\n',
        encoding="utf-8",
    )
    env = os.environ | {
        "WOM_ENV": "dev",
        "API_TOKENS_FILE": str(tokens),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
    }
    started = subprocess.run(
        [sys.executable, "-c", "from rewards.app import main; main()"],
        env=env, capture_output=True, text=True, timeout=bound(60), cwd=tmp_path,
    )  # fmt: skip
    assert started.returncode == 2 and "Traceback" not in started.stderr, started.stderr[-2000:]
    assert f"API_TOKENS_FILE {tokens}: tokens[0.scopes]" in started.stderr
    assert "unknown scopes ['customers:write']" in started.stderr
    assert not (tmp_path / "db.sqlite").exists()
