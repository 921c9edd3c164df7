"""Benchmark: N orders through the rewards consume path, batch and per-record, against the raw
aiokafka consume rate of the same topic.

    make bench                      # 50,000 orders
    uv run python -m tests.bench.rewards_consume --orders 10000 --record-orders 2000

The per-record run reads the same topic and stops after --record-orders events (default 5,000).

Uses KAFKA_BOOTSTRAP_SERVERS when set, else a fresh embedded broker (so the topic holds exactly
the benchmark's orders). Databases are fresh SQLite files in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from wom_chassis.tables import InboxRecord
from wom_contracts import Money, OrderCompletedV1, encode

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


async def raw_rate(bootstrap: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=uuid.uuid4().hex,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def service_rate(bootstrap: str, count: int, mode: str, directory: Path) -> float:
    from rewards.app import create_app
    from rewards.settings import RewardsSettings

    settings = RewardsSettings(
        kafka_bootstrap_servers=bootstrap,
        consume_mode=mode,
        log_level="WARNING",
        database_url=f"sqlite+aiosqlite:///{directory / f'rewards-{mode}.db'}",
        consumer_group=f"bench-{mode}-{uuid.uuid4().hex[:6]}",
    )
    service = create_app(settings)
    await service.start()
    try:
        # timed from the first committed transaction, so the consumer group join is not counted
        done, first, started = 0, 0, 0.0
        while done < count:
            await asyncio.sleep(0.02)
            async with service.db.session() as session:
                done = int(await session.scalar(select(func.count(InboxRecord.event_id))) or 0)
            if done and not started:
                started, first = time.perf_counter(), done
        return (done - first) / (time.perf_counter() - started)
    finally:
        await service.stop()


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
        raw = await raw_rate(bootstrap, orders)
        batch = await service_rate(bootstrap, orders, "batch", directory)
        record = await service_rate(bootstrap, record_orders, "record", directory)

    table = Table(title=f"rewards consume path, {orders:,} orders, SQLite")
    table.add_column("path")
    table.add_column("events", justify="right")
    table.add_column("events/s", justify="right")
    table.add_column("vs raw", justify="right")
    table.add_row("raw aiokafka consume", f"{orders:,}", f"{raw:,.0f}", "100 %")
    table.add_row("rewards, batch", f"{orders:,}", f"{batch:,.0f}", f"{batch / raw:.1%}")
    table.add_row("rewards, per record", f"{record_orders:,}", f"{record:,.0f}", f"{record / raw:.1%}")
    console.print(table)
    console.print(f"batch/raw ratio: {batch / raw:.3f} (target ≥ 0.25)")


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
