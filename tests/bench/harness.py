"""What every measurement of the bench needs: a broker, a producer, a service as its own process,
and the service's own clock (its inbox and outbox times) read from its database: a SQLite file
(a `Path`), or a PostgreSQL database (its URL, a `str`)."""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url
from wom_testkit import empty_database_url, free_port
from womctl.broker import EmbeddedBroker
from womctl.progress import progress
from womctl.storefront import RawRecord
from womctl.topics import create_topics

from tests.support import ServiceProcess, forked_children

__all__ = [
    "BenchDatabase",
    "Clock",
    "database_url",
    "embedded_broker",
    "empty_postgres",
    "load_average",
    "machine",
    "machine_facts",
    "peak_rss_mib",
    "process_cpu_seconds",
    "produce",
    "rate_from_commits",
    "service_process",
    "wait_for_inbox",
]

TICKS = os.sysconf("SC_CLK_TCK")
BenchDatabase = Path | str
"""A SQLite file, or the URL of a PostgreSQL database."""


def database_url(database: BenchDatabase) -> str:
    """The `DATABASE_URL` of a bench database."""
    return f"sqlite+aiosqlite:///{database}" if isinstance(database, Path) else database


def machine_facts() -> dict[str, Any]:
    """Cores, memory, Python and the system: what the figures of a run depend on."""
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def load_average() -> list[float]:
    """The load average over 1, 5 and 15 minutes: how busy the machine was besides the bench."""
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> str:
    """The machine and its load average, in a line."""
    facts = machine_facts()
    return (
        f"{facts['cores']} cores, {facts['memory_gib']:.0f} GiB, Python {facts['python']}, "
        f"{facts['system']}; load average {', '.join(f'{value:.2f}' for value in load_average())}"
    )


@contextmanager
def embedded_broker() -> Iterator[str]:
    """A fresh embedded broker (in memory) with every topic of deploy/topics.yaml; its bootstrap."""
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap))
        yield broker.bootstrap


async def produce(bootstrap: str, records: Sequence[RawRecord], *, rate: float | None = None) -> list[float]:
    """Send `records` (as fast as possible, or `rate` per second, evenly); return the wall time
    (time.time()) each record was handed to the producer."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    sent: list[float] = []
    label = f"producing at {rate:,.0f}/s" if rate is not None else "producing"
    try:
        with progress(label, len(records)) as advance:
            started = time.monotonic()
            for n, record in enumerate(records):
                if rate is not None:
                    delay = started + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)  # paces the traffic at `rate`
                await producer.send(record.topic, record.value, key=record.key, headers=record.headers)
                sent.append(time.time())
                if n % 1000 == 999:
                    advance(completed=n + 1)
            await producer.flush()
            advance(completed=len(records))
    finally:
        await producer.stop()
    return sent


def service_process(
    name: str,
    directory: Path,
    bootstrap: str,
    *,
    database: BenchDatabase,
    group: str,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> ServiceProcess:
    """A service as its own process (as deployed, or `command` with the same settings), on
    `database`, in consumer group `group`."""
    settings = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": database_url(database),
        "CONSUMER_GROUP": group,
        "LOG_LEVEL": "WARNING",
        "HTTP_PORT": str(free_port()),
        "API_TOKEN": "bench-token",
        **(env or {}),
    }
    return ServiceProcess(name, settings, directory / f"{name}-{group}-{uuid.uuid4().hex[:4]}.log", command)


def migrate(name: str, database: BenchDatabase) -> None:
    """Apply a service's migrations to `database` (before several instances start on it)."""
    subprocess.run(
        [sys.executable, "-c", f"from {name}.app import main; main()", "migrate"],
        env={"WOM_ENV": "dev", **os.environ, "DATABASE_URL": database_url(database), "LOG_LEVEL": "WARNING"},
        check=True,
        capture_output=True,
    )


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process and the children it forked (`WORKERS`) have used
    so far."""
    total = 0.0
    for process in (pid, *forked_children(pid)):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # exited since
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def peak_rss_mib(pid: int) -> float:
    """The peak resident set size of a process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _query(database: BenchDatabase, sql: str) -> list[tuple[object, ...]]:
    if isinstance(database, str):
        return asyncio.run(_postgres_query(database, sql))
    if not database.exists():
        return []
    try:
        with closing(sqlite3.connect(database, timeout=10)) as conn:
            return list(conn.execute(sql))
    except sqlite3.OperationalError:  # the schema is not there yet
        return []


async def _postgres_query(url: str, sql: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    except asyncpg.UndefinedTableError:  # the schema is not there yet
        return []
    finally:
        await connection.close()


def empty_postgres(url: str) -> str:
    """`url`'s database emptied (everything in its public schema dropped): the bench's own."""
    return asyncio.run(empty_database_url(url, Path()))


def inbox_count(database: BenchDatabase) -> int:
    rows = _query(database, "SELECT count(*) FROM inbox")
    return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]


def outbox_counts(database: BenchDatabase) -> tuple[int, int]:
    """Outbox rows written and published."""
    rows = _query(database, "SELECT count(*), count(sent_at) FROM outbox")
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)  # type: ignore[call-overload]


@dataclass
class Clock:
    """CPU seconds of the service processes at the first and the last commit the bench saw."""

    cpu_at_first: float = 0.0
    events_at_first: int = 0
    cpu_at_last: float = 0.0
    events_at_last: int = 0

    @property
    def cpu_per_event_us(self) -> float:
        events = self.events_at_last - self.events_at_first
        return (self.cpu_at_last - self.cpu_at_first) / events * 1e6 if events > 0 else float("nan")


def wait_for_inbox(
    services: Sequence[ServiceProcess],
    database: BenchDatabase,
    count: int,
    *,
    settle: float = 0.0,
    stuck: float = 600,
    relayed: bool = True,
) -> Clock:
    """Poll `database` until its inbox holds `count` events and (after `settle` seconds without
    change) every outbox row is published (if `relayed`: the services' outbox has a relay, the
    naive baseline's none); CPU of `services` sampled along the way."""
    clock, last, last_change = Clock(), None, time.monotonic()
    pids = [s.process.pid for s in services if s.process is not None]
    names = ", ".join(s.name for s in services)
    with progress(f"{names}: events consumed", count) as advance:
        while True:
            time.sleep(0.1)  # the poll's interval: the stuck check below bounds it
            for service in services:
                if service.process is not None and service.process.poll() is not None:
                    raise RuntimeError(f"{service.name} exited:\n{service.log.read_text()[-4000:]}")
            done, (written, sent) = inbox_count(database), outbox_counts(database) if relayed else (0, 0)
            cpu = sum(process_cpu_seconds(pid) for pid in pids)
            if done and not clock.events_at_first:
                clock.cpu_at_first, clock.events_at_first = cpu, done
            if done > clock.events_at_last:
                clock.cpu_at_last, clock.events_at_last = cpu, done
            advance(completed=min(done, count))
            state = (done, written, sent)
            if state != last:
                last, last_change = state, time.monotonic()
            quiet = time.monotonic() - last_change
            if done >= count and sent == written and quiet >= settle:
                return clock
            if quiet > stuck:
                raise RuntimeError(f"stuck at {state} of {count}")


def commit_times(database: BenchDatabase) -> list[datetime]:
    """When each event of the inbox was committed, in order."""
    return sorted(
        datetime.fromisoformat(str(row[0])) for row in _query(database, "SELECT processed_at FROM inbox")
    )


def sent_times(database: BenchDatabase) -> list[datetime]:
    """When each outbox row was marked published, in order."""
    rows = _query(database, "SELECT sent_at FROM outbox WHERE sent_at IS NOT NULL")
    return sorted(datetime.fromisoformat(str(row[0])) for row in rows)


def rate_from_commits(times: Sequence[datetime], *, until: datetime | None = None) -> float:
    """Events per second from the first committed transaction to the last (or to `until`): the
    events of the first transaction start the clock, so the group join is not counted."""
    if len(times) < 2:
        return float("nan")
    start = times[0]
    first = sum(1 for when in times if when == start)
    seconds = ((until or times[-1]) - start).total_seconds()
    return (len(times) - first) / seconds if seconds > 0 else float("nan")
