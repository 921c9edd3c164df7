"""One service's consume path in this process, for profiling: no broker, no relay.

    uv run python -m tests.bench.inprocess referrals                 # CPU µs per event
    uv run python -m tests.bench.inprocess referrals --sql           # ... and each statement
    uv run python -m tests.bench.inprocess outreach --profile out.prof --events 3000
    uv run python -m tests.bench.inprocess feedback --input feedback-timeline  # its timeline events

The service is built as deployed (`create_app`, settings from the environment) on a new SQLite
file; its own `EventProcessor` takes the bench's inputs (`tests/bench/inputs.py`) in batches of
`--batch` records, as the consumer hands them over. The first batch warms up and is not counted.
CPU is the process's (every thread's) user + system time, so a thread hand-off counts too.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event
from wom_testkit import FakeRecord

from tests.bench.inputs import INPUTS, SERVICE_INPUTS


async def measure(
    service: str, events: int, batch: int, *, sql: bool, profile: Path | None, inputs: str | None = None
) -> None:
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / f'{service}.db'}"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("WOM_ENV", "dev")
    app = importlib.import_module(f"{service}.app").create_app()
    await app.db.migrate()
    processor = app.processor
    processor.on_committed = None  # no relay: the outbox rows stay where they are
    statements: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    if sql:
        engine = app.db.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def started(conn: Any, *_: Any) -> None:
            conn.info["started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def ended(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counted = statements[" ".join(statement.split())[:150]]
            counted[0] += 1
            counted[1] += time.perf_counter() - conn.info["started"]

    records = [
        FakeRecord(topic=r.topic, value=r.value, headers=list(r.headers), key=r.key, offset=n)
        for n, r in enumerate(INPUTS[inputs or service]("inproc", events))
    ]
    await processor.process(records[:batch])
    statements.clear()
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for start in range(batch, len(records), batch):
        await processor.process(records[start : start + batch])
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    counted = len(records) - batch
    total = sum(n for n, _ in statements.values())
    print(
        f"{service}: {counted:,} events in batches of {batch}: {cpu / counted * 1e6:,.0f} µs CPU/event, "
        f"{counted / wall:,.0f} events/s" + (f", {total / counted:.1f} statements/event" if sql else "")
    )
    for text, (n, seconds) in sorted(statements.items(), key=lambda item: -item[1][1])[:20]:
        print(f"  {n / counted:5.2f}/event {seconds / n * 1e6:6.0f} µs  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("service", choices=sorted(SERVICE_INPUTS))
    parser.add_argument("--input", choices=sorted(INPUTS), help="the records to take (the service's own)")
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--sql", action="store_true", help="count and time every statement")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured batches here")
    args = parser.parse_args()
    asyncio.run(
        measure(args.service, args.events, args.batch, sql=args.sql, profile=args.profile, inputs=args.input)
    )


if __name__ == "__main__":
    main()
