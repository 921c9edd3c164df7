"""The outbox relay in this process against the embedded broker: rows/s and CPU per row of
publishing handed-over rows from memory, and of the sweeper publishing the same rows again from
the table.

    uv run python -m tests.bench.relay                     # 20,000 rows, 2,000 customers
    uv run python -m tests.bench.relay --trace             # ... with spans recorded
    uv run python -m tests.bench.relay --rows 50000 --per-commit 500 --profile /tmp/relay.prof

Rows (each with the trace context of the work that emitted it, as a handler's rows have) are
committed `--per-commit` at a time on a SQLite file (not timed) and handed over; the relay then
publishes until memory is empty (timed). Then every row is marked unsent and a new relay
publishes them from the table, oldest first (timed). CPU is this process's (the broker runs in
its own), user + system: the relay's own cost per row, marking rows sent included. `--trace`
records every span with the SDK (kept in memory), as an OTLP endpoint would have them exported.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import update
from wom_chassis.database import Database
from wom_chassis.outbox import add_to_outbox, outbox_row
from wom_chassis.publishing import RecordProducer
from wom_chassis.relay import OutboxRelay
from wom_chassis.tables import OutboxRecord
from wom_contracts import Money, OrderCompletedV1
from wom_testkit import span_recorder

from tests.bench.harness import embedded_broker, machine


def _row(n: int, customers: int) -> dict[str, Any]:
    event = _order(n, customers)
    return outbox_row(event, source="wom/bench", trace=(f"00-{n + 1:032x}-{n + 1:016x}-01", None))


def _order(n: int, customers: int) -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=f"bench-o{n}",
        customer_id=f"bench-c{n % customers}",
        completed_at=datetime.now(UTC),
        total=Money(amount=Decimal(10 + n % 90) + Decimal("0.99"), currency="EUR"),
    )


async def measure(bootstrap: str, rows: int, per_commit: int, profile: Path | None) -> None:
    db = Database(f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'relay.db'}", [])
    await db.migrate()
    producer = RecordProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        acks="all",
    )
    relay = OutboxRelay(db, producer, service="bench", batch_size=per_commit)
    await relay.publish_next()  # connects, reads the empty table: memory is in step
    profiler = cProfile.Profile() if profile else None
    cpu = wall = 0.0
    for start in range(0, rows, per_commit):
        batch = [_row(n, max(1, rows // 10)) for n in range(start, start + per_commit)]
        async with db.transaction() as session:
            await add_to_outbox(session, batch)
        began_cpu, began = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        relay.hand_over(batch)
        while await relay.publish_next():
            pass
        if profiler:
            profiler.disable()
        cpu, wall = cpu + time.process_time() - began_cpu, wall + time.perf_counter() - began
    print(f"from memory: {rows:,} rows, {rows / wall:,.0f} rows/s, {cpu / rows * 1e6:,.0f} µs CPU/row")
    async with db.transaction() as session:
        await session.execute(update(OutboxRecord).values(sent_at=None))
    relay = OutboxRelay(db, producer, service="bench", batch_size=per_commit)
    began_cpu, began = time.process_time(), time.perf_counter()
    while await relay.publish_next():
        pass
    cpu, wall = time.process_time() - began_cpu, time.perf_counter() - began
    print(f"from the table: {rows:,} rows, {rows / wall:,.0f} rows/s, {cpu / rows * 1e6:,.0f} µs CPU/row")
    await producer.stop()
    await db.dispose()
    if profiler and profile:
        profiler.dump_stats(profile)
        print(f"profile of the memory path in {profile}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--per-commit", type=int, default=500, help="rows per transaction and relay round")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the memory path here")
    parser.add_argument("--trace", action="store_true", help="record spans (an SDK tracer provider)")
    args = parser.parse_args()
    if args.trace:
        span_recorder()
    print(f"machine: {machine()}")
    with embedded_broker() as bootstrap:
        asyncio.run(measure(bootstrap, args.rows, args.per_commit, args.profile))
    print(f"machine after the run: {machine()}")


if __name__ == "__main__":
    main()
