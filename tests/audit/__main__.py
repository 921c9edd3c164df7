"""`make audit` / `python -m tests.audit`: print the verdict, exit with it (see the package)."""

from __future__ import annotations

import os
import sys

from tests.audit import Verdict, audit


def main() -> int:
    report = audit()
    for finding in report.failing:
        print(f"VULNERABLE {finding.line()}", file=sys.stderr)
    for finding, accepted in report.excepted:
        print(f"excepted until {accepted.until}: {finding.line()} ({accepted.reason})")
    for finding in report.unfixed:
        print(f"unfixed (nothing to upgrade to): {finding.line()}")
    for problem in report.problems:
        print(f"NOT AUDITED {problem}", file=sys.stderr)
    if report.verdict is Verdict.FAILED:
        print(f"audit: {len(report.failing)} vulnerable pin(s) with a fixed release", file=sys.stderr)
        return int(Verdict.FAILED)
    if report.verdict is Verdict.NOT_AUDITED:
        required = os.environ.get("WOM_AUDIT_REQUIRED") == "1"
        print(
            "audit: the dependencies were NOT audited"
            + ("" if required else " (set WOM_AUDIT_REQUIRED=1 where this must fail the build)"),
            file=sys.stderr,
        )
        return int(Verdict.NOT_AUDITED) if required else 0
    print(f"audit: {report.audited} pins, none with a known vulnerability that has a fix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
