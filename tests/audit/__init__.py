"""`make audit`: every locked dependency against the known vulnerabilities.

uv.lock is exported as pinned requirements (every group: the tools CI runs are code it runs too) and
pip-audit asks an OSV service about each pin, the public one unless WOM_AUDIT_OSV_URL names a mirror.
The verdict is ours because pip-audit's exit status is not: it fails on any vulnerability, while a
vulnerability without a fixed release is something to know, not something a build can act on, and an
accepted one has to say why and until when (exceptions.toml, beside this module).

- a vulnerability with a fixed release, not excepted, or excepted past its date: failed (exit 1);
- the service could not be reached or a pin could not be audited: not audited, said on stderr, and
  a failure (exit 3) where WOM_AUDIT_REQUIRED=1; a network that reaches the package index but no
  advisory service is a real place to run the tests in, so elsewhere it does not stop `make test`;
- otherwise passed, with the unfixed ones listed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXCEPTIONS = Path(__file__).with_name("exceptions.toml")
PUBLIC_OSV = "https://api.osv.dev/v1/query"


class Verdict(IntEnum):
    PASSED = 0
    FAILED = 1
    NOT_AUDITED = 3


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    ids: tuple[str, ...]
    fixed_in: tuple[str, ...]
    description: str

    def line(self) -> str:
        fix = f"fixed in {', '.join(self.fixed_in)}" if self.fixed_in else "no fixed release"
        return f"{self.package} {self.version}: {' / '.join(self.ids)} ({fix}) {self.description[:120]}"


@dataclass(frozen=True)
class Exception_:
    id: str
    reason: str
    until: dt.date


@dataclass
class Report:
    verdict: Verdict
    failing: list[Finding]
    unfixed: list[Finding]
    excepted: list[tuple[Finding, Exception_]]
    problems: list[str]
    audited: int


def load_exceptions(path: Path = EXCEPTIONS) -> dict[str, Exception_]:
    """exceptions.toml: [[exception]] tables of id, reason and until (a date); a table short of one
    is an error here rather than an exception that holds for ever or for no stated reason."""
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("exception", [])
    found: dict[str, Exception_] = {}
    for number, entry in enumerate(entries, start=1):
        missing = [key for key in ("id", "reason", "until") if not entry.get(key)]
        if missing or not isinstance(entry["until"], dt.date):
            raise ValueError(f"{path.name}: exception {number} needs id, reason and until (a date)")
        found[entry["id"]] = Exception_(entry["id"], entry["reason"], entry["until"])
    return found


def judge(audit: dict[str, object], exceptions: dict[str, Exception_], today: dt.date) -> Report:
    """pip-audit's JSON report, the exceptions and today's date into a verdict."""
    report = Report(Verdict.PASSED, [], [], [], [], 0)
    for dependency in audit.get("dependencies", []):  # type: ignore[attr-defined]
        if "skip_reason" in dependency:
            report.problems.append(f"{dependency['name']}: not audited ({dependency['skip_reason']})")
            continue
        report.audited += 1
        for vuln in dependency.get("vulns", []):
            finding = Finding(
                dependency["name"],
                dependency["version"],
                (vuln["id"], *vuln.get("aliases", [])),
                tuple(vuln.get("fix_versions", [])),
                vuln.get("description") or "",
            )
            accepted = next((exceptions[i] for i in finding.ids if i in exceptions), None)
            if not finding.fixed_in:
                report.unfixed.append(finding)
            elif accepted is not None and accepted.until >= today:
                report.excepted.append((finding, accepted))
            else:
                report.failing.append(finding)
    if report.failing:
        report.verdict = Verdict.FAILED
    elif report.problems:
        report.verdict = Verdict.NOT_AUDITED
    return report


def locked_requirements(directory: Path, lock_root: Path = ROOT) -> Path:
    """uv.lock as pinned requirements, every group, the workspace's own packages left out."""
    target = directory / "requirements.txt"
    subprocess.run(
        [os.environ.get("UV", "uv"), "export", "--frozen", "--format", "requirements-txt", "--no-hashes",
         "--all-groups", "--no-emit-workspace", "--no-header", "--quiet", "-o", str(target)],
        cwd=lock_root, check=True,
    )  # fmt: skip
    return target


def run_pip_audit(requirements: Path, osv_url: str, timeout: float) -> dict[str, object] | str:
    """pip-audit's JSON report, or why there is none (the service unreachable, a pin it refused)."""
    output = requirements.with_name("audit.json")
    done = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--no-deps",
         "--disable-pip", "--vulnerability-service", "osv", "--osv-url", osv_url, "--format", "json",
         "--output", str(output), "--progress-spinner", "off", "--timeout", str(int(timeout))],
        capture_output=True, text=True,
    )  # fmt: skip
    if not output.exists():
        last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["no output"]
        return f"pip-audit exited {done.returncode} without a report: {last[0][:300]}"
    return json.loads(output.read_text(encoding="utf-8"))


def audit(
    lock_root: Path = ROOT, osv_url: str | None = None, exceptions: Path = EXCEPTIONS, timeout: float = 15
) -> Report:
    osv_url = osv_url or os.environ.get("WOM_AUDIT_OSV_URL") or PUBLIC_OSV
    accepted = load_exceptions(exceptions)
    with tempfile.TemporaryDirectory(prefix="wom-audit-") as directory:
        result = run_pip_audit(locked_requirements(Path(directory), lock_root), osv_url, timeout)
    if isinstance(result, str):
        return Report(Verdict.NOT_AUDITED, [], [], [], [f"{osv_url}: {result}"], 0)
    return judge(result, accepted, dt.date.today())
