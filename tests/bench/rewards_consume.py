"""Benchmark: N orders through the rewards consume path, batch and per-record, against the raw
aiokafka consume rate of the same topic.

    make bench                      # 50,000 orders
    uv run python -m tests.bench.rewards_consume --orders 10000 --record-orders 2000

The service runs as its own process, as in production (`python -c "from rewards.app import
main; main()"`, settings from the environment), so the bench takes no CPU from its event loop.
The bench reads the service's SQLite file every quarter second to see when it is done, then
times the run from the service's own commit times:

- consumed: from the first committed transaction to the one that committed the last order
  (the inbox's `processed_at`), so the consumer group join is not counted;
- drained incl. relay: from the same start until the outbox row of the last order was
  published and marked sent (the outbox's `sent_at`): an order is only done when its effect
  is committed and the event it emits is on the broker.

The raw rate is timed the same way, from the first fetched batch to the last record.
The per-record run reads the same topic and stops after --record-orders events (default 5,000).

Uses KAFKA_BOOTSTRAP_SERVERS when set, else a fresh embedded broker (so the topic holds exactly
the benchmark's orders). Databases are fresh SQLite files in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.table import Table
from wom_contracts import Money, OrderCompletedV1, encode
from womctl.broker import free_port

TOPIC = OrderCompletedV1.event_type
console = Console()


async def produce(bootstrap: str, count: int, run: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        when = datetime.now(UTC)
        for n in range(count):
            event = OrderCompletedV1(
                order_id=f"{run}-o{n}",
                customer_id=f"{run}-c{n % 5000}",
                completed_at=when,
                total=Money(amount=Decimal(10 + n % 90) + Decimal("0.99"), currency="EUR"),
            )
            record = encode(event, source="bench")
            await producer.send(TOPIC, record.value, key=record.key, headers=record.headers)
        await producer.flush()
    finally:
        await producer.stop()


async def raw_rate(bootstrap: str, count: int) -> tuple[float, float]:
    """Records/s of a plain consumer from its first fetched batch, and (as the bench used to
    time it) from the return of `start()`, so including the group join."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=uuid.uuid4().hex,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    joining = time.perf_counter()
    try:
        # timed from the first fetched batch, like the service (the group join is not counted)
        seen, first, started = 0, 0, 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(records) for records in batch.values())
            if seen and not started:
                started, first = time.perf_counter(), seen
        ended = time.perf_counter()
        return (count - first) / (ended - started), count / (ended - joining)
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Rates:
    consumed: float
    drained: float


def _progress(database: Path) -> tuple[int, int]:
    """Orders committed and outbox rows published so far (0, 0 before the schema exists)."""
    if not database.exists():
        return 0, 0
    try:
        with closing(sqlite3.connect(database, timeout=5)) as conn:
            done = conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
            sent = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:  # migrations still running
        return 0, 0
    return int(done), int(sent)


def _rates(database: Path, count: int) -> Rates:
    """Rates from the service's own commit and publish times of the first `count` orders."""
    with closing(sqlite3.connect(database)) as conn:
        processed = [
            datetime.fromisoformat(row[0])
            for row in conn.execute("SELECT processed_at FROM inbox ORDER BY processed_at LIMIT ?", (count,))
        ]
        sent = [
            datetime.fromisoformat(row[0])
            for row in conn.execute("SELECT sent_at FROM outbox ORDER BY id LIMIT ?", (count,))
        ]
    start = processed[0]
    first = sum(1 for when in processed if when == start)  # the first transaction starts the clock
    consumed = (count - first) / (processed[-1] - start).total_seconds()
    drained = (count - first) / (max(sent) - start).total_seconds()
    return Rates(consumed, drained)


def service_rate(bootstrap: str, count: int, mode: str, directory: Path) -> Rates:
    """Run the rewards service as a process until `count` orders are committed and published."""
    database = directory / f"rewards-{mode}.db"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "CONSUME_MODE": mode,
        "CONSUMER_GROUP": f"bench-{mode}-{uuid.uuid4().hex[:6]}",
        "LOG_LEVEL": "WARNING",
        "HTTP_PORT": str(free_port()),
    }
    log = directory / f"rewards-{mode}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from rewards.app import main; main()"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        last_change, last = time.monotonic(), (0, 0)
        while True:
            time.sleep(0.25)
            if process.poll() is not None:
                raise RuntimeError(f"rewards exited:\n{log.read_text()[-4000:]}")
            progress = _progress(database)
            if min(progress) >= count:
                break
            if progress != last:
                last_change, last = time.monotonic(), progress
            elif time.monotonic() - last_change > 120:
                raise RuntimeError(f"rewards stuck at {progress}:\n{log.read_text()[-4000:]}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return _rates(database, count)


async def main(orders: int, record_orders: int) -> None:
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            from womctl.broker import EmbeddedBroker
            from womctl.topics import create_topics

            broker = stack.enter_context(EmbeddedBroker())
            bootstrap = broker.bootstrap
            await create_topics(bootstrap)
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        run = uuid.uuid4().hex[:6]
        console.print(f"producing {orders:,} orders to {TOPIC} on {bootstrap} …")
        await produce(bootstrap, orders, run)
        raw, raw_with_join = await raw_rate(bootstrap, orders)
        batch = await asyncio.to_thread(service_rate, bootstrap, orders, "batch", directory)
        record = await asyncio.to_thread(service_rate, bootstrap, record_orders, "record", directory)

    table = Table(title=f"rewards consume path, {orders:,} orders, SQLite")
    table.add_column("path")
    table.add_column("events", justify="right")
    table.add_column("consumed/s", justify="right")
    table.add_column("vs raw", justify="right")
    table.add_column("drained incl. relay/s", justify="right")
    table.add_column("vs raw", justify="right")
    table.add_row("raw aiokafka consume", f"{orders:,}", f"{raw:,.0f}", "100 %", "", "")
    table.add_row("raw, group join included (old bench)", f"{orders:,}", f"{raw_with_join:,.0f}", "", "", "")
    for name, events, rates in (
        ("rewards, batch", orders, batch),
        ("rewards, per record", record_orders, record),
    ):
        table.add_row(
            name,
            f"{events:,}",
            f"{rates.consumed:,.0f}",
            f"{rates.consumed / raw:.1%}",
            f"{rates.drained:,.0f}",
            f"{rates.drained / raw:.1%}",
        )
    console.print(table)
    console.print(
        f"batch/raw ratio: {batch.consumed / raw:.3f} consumed, "
        f"{batch.drained / raw:.3f} drained incl. relay (target ≥ 0.25); "
        f"against raw with its group join: {batch.consumed / raw_with_join:.3f} consumed"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument(
        "--record-orders",
        type=int,
        default=5_000,
        help="orders for the per-record run (slower: one transaction per event)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.record_orders))
