"""The chaos harness's read-only connections to the services' SQLite files: a query still running
in a worker thread (a cancelled `asyncio.to_thread` leaves it running) when the harness closes
them. sqlite3 frees a connection closed under a running query, a segfault of the whole test run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support import HEALTHY_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
SLOW = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20000) SELECT i FROM r"

RACE = textwrap.dedent(f"""
    import sqlite3, sys, threading, time
    from tests.chaos.state import Databases

    path = sys.argv[1]
    sqlite3.connect(path).execute("CREATE TABLE IF NOT EXISTS inbox (event_id TEXT)").connection.close()
    refused = 0
    for round in range(20):
        databases = Databases({{"rewards": path}})
        def read() -> None:
            global refused
            try:
                for _ in range(50):
                    databases.query("rewards", {SLOW!r})
            except RuntimeError:
                refused += 1
        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.002 * (round % 5 + 1))  # the reader gets a varying way in before the close
        databases.close()
        reader.join()
    print("refused", refused)
""")


def test_closing_waits_for_a_running_query_and_refuses_later_ones(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", RACE, str(tmp_path / "rewards.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=HEALTHY_TIMEOUT,
    )  # fmt: skip
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.split() == ["refused", "20"]  # every reader was stopped by the close, none crashed
