"""Consume-path throughput: the raw aiokafka rate (the limit), each service alone in batch and
per-record mode, the naive baseline (`tests/bench/naive.py`) on the rewards input, the outbox
relay, and one against two instances of rewards.

A service runs as its own process on a fresh SQLite file, its input produced beforehand. It is
timed by its own clock: from its first committed transaction to the one that committed the last
event (the inbox's `processed_at`), so the consumer group join is not counted, and, for
"drained", until the last outbox row it wrote was published (`sent_at`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from wom_testkit import rules_file
from womctl.storefront import RawRecord

from tests.bench.harness import (
    BenchDatabase,
    Clock,
    commit_times,
    embedded_broker,
    empty_postgres,
    migrate,
    produce,
    rate_from_commits,
    sent_times,
    service_process,
    wait_for_inbox,
)
from tests.bench.inputs import SERVICE_INPUTS
from tests.platform import TimedInbox

__all__ = [
    "ServiceRuns",
    "Throughput",
    "measure_service",
    "naive_throughput",
    "raw_rate",
    "relay_rate",
    "scale_out",
    "service_throughput",
]

NAIVE = Path(__file__).with_name("naive.py")


@dataclass(frozen=True)
class Throughput:
    """What one run of a service's consume path measured."""

    service: str
    mode: str
    events: int
    consumed: float  # events/s, first to last commit
    drained: float  # events/s, first commit to the last outbox row published
    cpu_us: float  # CPU µs of the service process per event, between the first and last commit
    database: BenchDatabase
    group: str
    mails: int = 0  # mails the SMTP inbox received (outreach)
    mail_per_s: float = float("nan")  # ... per second, first to last arrival


@dataclass
class ServiceRuns:
    """What the consume part measured for one service."""

    raw: float
    batch: Throughput
    record: Throughput
    relay: tuple[int, float] | None = None  # rows, rows/s (rewards)
    naive: Throughput | None = None  # the naive baseline on the same input (rewards)


def measure_service(name: str, directory: Path, events: int, record_events: int) -> ServiceRuns:
    """One service's consume part: the raw rate, batch mode, per record; for rewards the relay and
    the naive baseline, on the batch run's broker and input."""
    run = uuid.uuid4().hex[:6]
    with embedded_broker() as bootstrap:
        batch_input = SERVICE_INPUTS[name](f"{run}b", events)
        asyncio.run(produce(bootstrap, batch_input))
        raw = raw_rate(bootstrap, batch_input)
        batch = service_throughput(name, "batch", bootstrap, directory, batch_input)
        relay = relay_rate(name, bootstrap, directory, batch) if name == "rewards" else None
        naive = naive_throughput(bootstrap, directory, batch_input) if name == "rewards" else None
    with embedded_broker() as bootstrap:
        record_input = SERVICE_INPUTS[name](f"{run}r", record_events)
        asyncio.run(produce(bootstrap, record_input))
        record = service_throughput(name, "record", bootstrap, directory, record_input)
    return ServiceRuns(raw, batch, record, relay, naive)


async def _raw(bootstrap: str, topics: list[str], count: int) -> float:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:  # timed from the first fetched batch, like the services (the group join is not counted)
        seen, first, started = 0, 0, 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(records) for records in batch.values())
            if seen and not started:
                started, first = time.perf_counter(), seen
        return (count - first) / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def raw_rate(bootstrap: str, records: list[RawRecord]) -> float:
    """Records/s of a plain aiokafka consumer reading `records` (already produced)."""
    return asyncio.run(_raw(bootstrap, sorted({r.topic for r in records}), len(records)))


def service_throughput(
    name: str, mode: str, bootstrap: str, directory: Path, records: list[RawRecord]
) -> Throughput:
    """Consume `records` (produced beforehand on this broker, nothing else on their topics)
    with the service in `mode` (`batch` or `record`) in a new consumer group, on a fresh database."""
    run = uuid.uuid4().hex[:6]
    database = directory / f"{name}-{mode}-{run}.db"
    # outreach sends mail from a job: every 0.2 s, so that "drained" measures the path, not the tick
    env = {"CONSUME_MODE": mode, "DELIVERY_EVERY_SECONDS": "0.2"}
    if name == "outreach":  # welcomes fall due five minutes after a sign-up: not in this run
        shipped = Path(__file__).resolve().parents[2] / "services/outreach/src/outreach/rules.default.yaml"
        rules = rules_file(directory, shipped, {"welcome_delay_minutes": 24 * 60})
        env["OUTREACH_RULES_FILE"] = str(rules.rename(directory / f"outreach-rules-{run}.yaml"))
    group = f"bench-{name}-{mode}-{run}"
    with TimedInbox() as mail:  # a real SMTP server, in this process: outreach's mail goes somewhere
        env |= {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mail.port)}
        service = service_process(name, directory, bootstrap, database=database, group=group, env=env).start()
        try:
            clock = wait_for_inbox([service], database, len(records), settle=2.0)
        finally:
            service.stop()
    result = _throughput(name, mode, database, group, clock, len(records))
    if not mail.arrivals:
        return result
    return replace(result, mails=len(mail.arrivals), mail_per_s=_arrival_rate([t for t, _ in mail.arrivals]))


def _arrival_rate(times: list[float]) -> float:
    """Mails per second from the first arrival to the last (the first starts the clock)."""
    seconds = times[-1] - times[0] if times else 0.0
    return (len(times) - 1) / seconds if seconds > 0 else float("nan")


def naive_throughput(
    bootstrap: str, directory: Path, records: list[RawRecord], *, stuck: float = 600
) -> Throughput:
    """The naive baseline (`tests/bench/naive.py`) consuming `records` (the rewards input, produced
    beforehand on this broker) in a new consumer group, on a fresh database; timed like a service.
    It fails after `stuck` seconds without a new commit."""
    run = uuid.uuid4().hex[:6]
    database = directory / f"naive-{run}.db"
    group = f"bench-naive-{run}"
    command = [sys.executable, "-m", "faststream", "run", f"{NAIVE.stem}:app", "--app-dir", str(NAIVE.parent)]
    baseline = service_process("naive", directory, bootstrap, database=database, group=group, command=command)
    baseline.start()
    try:
        clock = wait_for_inbox([baseline], database, len(records), settle=1.0, stuck=stuck, relayed=False)
    finally:
        baseline.stop()
    return _throughput("naive", "per message", database, group, clock, len(records))


def relay_rate(name: str, bootstrap: str, directory: Path, measured: Throughput) -> tuple[int, float]:
    """Rows/s of the outbox relay alone: the outbox of a finished run marked unsent again, the
    service restarted in the same consumer group (nothing left to consume), timed by `sent_at`."""
    database = directory / f"{name}-relay.db"
    with closing(sqlite3.connect(measured.database)) as source, closing(sqlite3.connect(database)) as target:
        source.backup(target)
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("UPDATE outbox SET sent_at = NULL")
        conn.commit()
        rows = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    group = measured.group
    service = service_process(name, directory, bootstrap, database=database, group=group).start()
    try:
        wait_for_inbox([service], database, 0, settle=1.0)
    finally:
        service.stop()
    sent = sent_times(database)
    return rows, rate_from_commits(sent)


def scale_out(
    bootstrap: str, directory: Path, count: int, postgres: str | None = None
) -> tuple[Throughput, Throughput]:
    """Rewards with one consumer process, then two in one consumer group on one database: the
    same `count` orders over 12 partitions, produced beforehand; each run on a fresh database.
    On PostgreSQL (`postgres`, a database the bench may empty) the second run is one service
    with `WORKERS=2`; on SQLite, which admits one writer, two instances of the service."""
    run = uuid.uuid4().hex[:6]
    records = SERVICE_INPUTS["rewards"](run, count)
    asyncio.run(produce(bootstrap, records))
    results = []
    for workers in (1, 2):
        database: BenchDatabase = (
            empty_postgres(postgres) if postgres else directory / f"rewards-x{workers}-{run}.db"
        )
        migrate("rewards", database)
        group = f"bench-rewards-x{workers}-{run}"
        env = {"RUN_MIGRATIONS": "false"}
        instances = 1 if postgres else workers
        if postgres:
            env["WORKERS"] = str(workers)
        services = [
            service_process("rewards", directory, bootstrap, database=database, group=group, env=env).start()
            for _ in range(instances)
        ]
        try:
            clock = wait_for_inbox(services, database, count, settle=2.0)
        finally:
            for service in services:
                service.stop()
        plural = "s" if workers > 1 else ""
        mode = f"{workers} worker{plural} (PostgreSQL)" if postgres else f"{workers} instance{plural}"
        results.append(_throughput("rewards", mode, database, group, clock, None))
    return results[0], results[1]


def _throughput(
    name: str, mode: str, database: BenchDatabase, group: str, clock: Clock, count: int | None
) -> Throughput:
    """The run's rates from the service's own commit and publish times (its first `count` commits)."""
    commits, sent = commit_times(database)[:count], sent_times(database)
    return Throughput(
        name,
        mode,
        len(commits),
        rate_from_commits(commits),
        rate_from_commits(commits, until=max(sent[-1], commits[-1])) if sent else float("nan"),
        clock.cpu_per_event_us,
        database,
        group,
    )
