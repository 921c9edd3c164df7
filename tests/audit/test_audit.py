"""The audit: the real export of uv.lock and the real pip-audit, against a local OSV service that
knows what each test needs it to know."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.audit import Verdict, audit, judge, load_exceptions

PACKAGE = "aiokafka"  # locked by the chassis: whatever its version, the service says it is affected


def advisory(fixed: str | None) -> dict[str, object]:
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": "GHSA-test-0000-0001",
        "aliases": ["CVE-2099-0001"],
        "summary": "a made-up flaw",
        "affected": [
            {
                "package": {"name": PACKAGE, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


class Advisories:
    def __init__(self) -> None:
        self.vulns: list[dict[str, object]] = []
        self.status = 200
        self.asked: list[str] = []


@pytest.fixture
def osv() -> Iterator[tuple[str, Advisories]]:
    known = Advisories()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            known.asked.append(query["package"]["name"])
            body = json.dumps({"vulns": known.vulns} if query["package"]["name"] == PACKAGE else {})
            self.send_response(known.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", known
    finally:
        server.shutdown()


def exceptions_file(tmp_path: Path, until: dt.date) -> Path:
    path = tmp_path / "exceptions.toml"
    path.write_text(
        f'[[exception]]\nid = "CVE-2099-0001"\nreason = "not reachable from wom"\nuntil = {until}\n'
    )
    return path


def test_a_locked_pin_with_a_fixed_release_fails_the_audit(osv, tmp_path) -> None:
    url, known = osv
    known.vulns = [advisory(fixed="99.0.0")]
    report = audit(osv_url=url, exceptions=tmp_path / "none.toml")
    assert report.verdict is Verdict.FAILED
    assert [(f.package, f.fixed_in) for f in report.failing] == [(PACKAGE, ("99.0.0",))]
    assert "GHSA-test-0000-0001" in report.failing[0].line() and "fixed in 99.0.0" in report.failing[0].line()
    # every pin was asked about, the dev tools' included, the workspace's own packages not
    assert {PACKAGE, "pip-audit", "pytest"} <= set(known.asked) and "wom-chassis" not in known.asked
    assert report.audited == len(set(known.asked))


def test_no_fixed_release_is_listed_and_passes(osv, tmp_path) -> None:
    url, known = osv
    known.vulns = [advisory(fixed=None)]
    report = audit(osv_url=url, exceptions=tmp_path / "none.toml")
    assert report.verdict is Verdict.PASSED and [f.package for f in report.unfixed] == [PACKAGE]


def test_an_exception_holds_until_its_date(osv, tmp_path) -> None:
    url, known = osv
    known.vulns = [advisory(fixed="99.0.0")]
    held = audit(osv_url=url, exceptions=exceptions_file(tmp_path, dt.date.today()))
    assert held.verdict is Verdict.PASSED and held.excepted[0][1].reason == "not reachable from wom"
    lapsed = audit(osv_url=url, exceptions=exceptions_file(tmp_path, dt.date.today() - dt.timedelta(days=1)))
    assert lapsed.verdict is Verdict.FAILED


def test_an_unreachable_or_failing_service_is_not_audited_not_passed(osv, tmp_path) -> None:
    url, known = osv
    known.status = 503
    assert audit(osv_url=url, exceptions=tmp_path / "none.toml").verdict is Verdict.NOT_AUDITED
    closed = audit(osv_url="http://127.0.0.1:9/v1/query", exceptions=tmp_path / "none.toml", timeout=2)
    assert closed.verdict is Verdict.NOT_AUDITED and "127.0.0.1:9" in closed.problems[0]


def test_a_pin_that_could_not_be_audited_is_not_a_pass() -> None:
    report = judge({"dependencies": [{"name": "x", "skip_reason": "not on the index"}]}, {}, dt.date.today())
    assert report.verdict is Verdict.NOT_AUDITED and report.problems == ["x: not audited (not on the index)"]


def test_an_exception_without_reason_or_date_is_refused(tmp_path) -> None:
    path = tmp_path / "exceptions.toml"
    path.write_text('[[exception]]\nid = "CVE-2099-0001"\nuntil = 2099-01-01\n')
    with pytest.raises(ValueError, match="exception 1 needs id, reason and until"):
        load_exceptions(path)


def test_the_shipped_exceptions_file_reads() -> None:
    assert all(entry.reason for entry in load_exceptions().values())
