"""scripts/bootstrap's uv step on a machine without uv: python3 is a stub that records how it is
called, its pip refusing every variant before the one a test lets through, so nothing is installed."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bootstrap"
BASH = "/bin/bash"
PLAIN = "-m pip install --quiet uv"
USER = "-m pip install --quiet --user uv"
BREAK = "-m pip install --quiet --break-system-packages uv"
LOCATE = "-c import uv; print(uv.find_uv_bin())"

STUB = """#!/bin/sh
echo "$*" >> {log}
case "$*" in
  "-c "*) [ -f {installed} ] && echo {pip_bin}/uv && exit 0; exit 1 ;;
  *" {accepted} uv") : > {installed}; exit 0 ;;
  *) echo "error: externally-managed-environment" >&2; exit 1 ;;
esac
"""


@dataclass
class Machine:
    path: str  # PATH: the stubs only, no uv on it
    python_calls: Path
    pip_calls: Path

    def bootstrap(self, *steps: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASH, str(SCRIPT), *steps],
            env={"PATH": self.path, "HOME": "/nonexistent"},
            capture_output=True,
            text=True,
            timeout=10,
        )

    def calls(self) -> list[str]:
        return self.python_calls.read_text().splitlines() if self.python_calls.exists() else []


def machine(tmp_path: Path, accepted: str) -> Machine:
    """Stubs for python3 and pip on PATH; python3's pip accepts `accepted` (a flag, "--quiet" for
    the plain install, or "" for none) and then knows a uv binary outside PATH."""
    stubs, pip_bin = tmp_path / "bin", tmp_path / "pip-bin"
    stubs.mkdir()
    pip_bin.mkdir()
    python_calls, pip_calls = tmp_path / "python3.calls", tmp_path / "pip.calls"
    python3 = stubs / "python3"
    installed = tmp_path / "installed"
    stub = STUB.format(log=python_calls, installed=installed, pip_bin=pip_bin, accepted=accepted or "--never")
    python3.write_text(stub)
    pip = stubs / "pip"
    pip.write_text(f'#!/bin/sh\necho "$*" >> {pip_calls}\nexit 1\n')
    uv = pip_bin / "uv"
    uv.write_text("#!/bin/sh\necho 'uv 0.0.0-stub'\n")
    for program in (python3, pip, uv):
        program.chmod(0o755)
    return Machine(str(stubs), python_calls, pip_calls)


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        ("--quiet", [LOCATE, PLAIN, LOCATE]),
        ("--user", [LOCATE, PLAIN, USER, LOCATE]),
        ("--break-system-packages", [LOCATE, PLAIN, USER, BREAK, LOCATE]),
    ],
    ids=["plain", "user", "break-system-packages"],
)
def test_uv_is_installed_by_the_first_variant_pip_accepts_and_is_found_afterwards(
    tmp_path: Path, accepted: str, expected: list[str]
) -> None:
    stubs = machine(tmp_path, accepted)
    result = stubs.bootstrap("uv")
    assert result.returncode == 0, result.stderr
    assert stubs.calls() == expected
    assert not stubs.pip_calls.exists(), "pip is python3's module, never a pip on PATH"
    flag = "" if accepted == "--quiet" else f" {accepted}"
    assert f"installed with 'python3 -m pip install --quiet{flag} uv' (uv 0.0.0-stub)" in result.stdout


def test_when_every_variant_fails_the_message_names_what_was_tried(tmp_path: Path) -> None:
    stubs = machine(tmp_path, accepted="")
    result = stubs.bootstrap("uv")
    assert result.returncode == 1
    assert stubs.calls() == [LOCATE, PLAIN, USER, BREAK]
    assert result.stderr.splitlines() == [
        "bootstrap: uv is not on PATH and could not be installed; tried:",
        "bootstrap:   python3 -m pip install --quiet uv",
        "bootstrap:   python3 -m pip install --quiet --user uv",
        "bootstrap:   python3 -m pip install --quiet --break-system-packages uv",
        "bootstrap: Install uv yourself (https://docs.astral.sh/uv/getting-started/installation/),"
        " then run this again.",
    ]


def test_a_uv_already_installed_for_python3_is_used_without_pip(tmp_path: Path) -> None:
    stubs = machine(tmp_path, accepted="")
    (tmp_path / "installed").touch()
    result = stubs.bootstrap("uv")
    assert result.returncode == 0, result.stderr
    assert stubs.calls() == [LOCATE]


def test_an_unknown_step_is_refused_with_the_list_of_steps(tmp_path: Path) -> None:
    result = machine(tmp_path, accepted="").bootstrap("postgre")
    assert result.returncode == 1
    assert "no step 'postgre' (the steps: uv make postgres chromium asyncapi)" in result.stderr
