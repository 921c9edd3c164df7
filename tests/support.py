"""Helpers for tests that run services as real processes against a real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from wom_testkit import bound, empty_database_url, sibling_database_url
from wom_testkit.records import source_of

HEALTHY_TIMEOUT = float(os.environ.get("WOM_TEST_HEALTHY_TIMEOUT") or bound(120))
"""How long a started service may take to answer /health (`WOM_TEST_HEALTHY_TIMEOUT`, else 120 s
widened by `WOM_TEST_TIMEOUT_SCALE`): start-up
(imports, migrations, the group join) takes a few seconds alone and far longer on a loaded machine."""

API_TOKEN = "e2e-token"
SERVICE_NAMES = ("referrals", "rewards", "outreach", "feedback")


class ServiceProcess:
    """One wom service as a real child process with its own database and consumer group
    (`command`: another program with the same settings, by default the service as deployed)."""

    def __init__(self, name: str, env: dict[str, str], log: Path, command: list[str] | None = None) -> None:
        self.name = name
        self.env = env
        self.log = log
        self.command = command or [sys.executable, "-c", f"from {name}.app import main; main()"]
        self.port = int(env["HTTP_PORT"])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                env={"WOM_ENV": "dev", **os.environ, **self.env},  # the tests' short secrets
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_healthy(self, timeout: float | None = None) -> None:
        timeout = HEALTHY_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not healthy in {timeout}s:\n{self.log.read_text()[-4000:]}")

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {API_TOKEN}"})
        response.raise_for_status()
        return response.json()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=bound(40))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


def forked_children(pid: int) -> list[int]:
    """The pids of the processes `pid` forked and that still run (a service's `WORKERS`)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:  # exited since
        return []


def cloudevent_headers(event_type: str, subject: str, event_id: str | None = None) -> list[tuple[str, bytes]]:
    """CloudEvents binary-mode headers written by hand, as a non-wom publisher would (with the
    source of the wom service whose event it stands in for, which consumers require)."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", (event_id or uuid.uuid4().hex).encode()),
        ("ce_source", source_of(event_type, upstream="https://shop.example.com/orders").encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("ce_subject", subject.encode()),
        ("content-type", b"application/json"),
    ]


async def publish_as_shop(producer: Any, event_type: str, customer: str, data: dict[str, Any]) -> None:
    """Publish an event as an upstream shop would: plain JSON, CloudEvents headers by hand."""
    await producer.send_and_wait(
        event_type,
        json.dumps({"customer_id": customer, **data}).encode(),
        key=customer.encode(),
        headers=cloudevent_headers(event_type, customer),
    )


async def read_topic(
    bootstrap: str, topic: str, *, until: Callable[[list[Any]], bool], timeout: float | None = None
) -> list[Any]:
    """Records of `topic` from the beginning, read until `until(records)` or the timeout
    (`bound(20)` by default)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    consumer.subscribe([topic])
    records: list[Any] = []
    try:
        deadline = time.monotonic() + (bound(20) if timeout is None else timeout)
        while time.monotonic() < deadline and not until(records):
            batch = await consumer.getmany(timeout_ms=300)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def service_database_urls(backend: str, directory: Path) -> dict[str, str]:
    """An empty database for each service: SQLite files in `directory`, or on PostgreSQL
    (`backend` is its URL) the databases `<its database>_<service>` beside it, emptied."""
    if backend == "sqlite":
        return {name: f"sqlite+aiosqlite:///{directory / name}.db" for name in SERVICE_NAMES}
    return {
        name: await empty_database_url(await sibling_database_url(backend, name), directory)
        for name in SERVICE_NAMES
    }


def wait_until(check: Callable[[], Any], timeout: float | None = None, every: float = 0.2) -> Any:
    """The blocking twin of `eventually`, for tests that drive processes synchronously (the
    timeout `bound(15)` by default)."""
    timeout = bound(15) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true within {timeout}s (last value {value!r})")


async def query_one(database_url: str, sql: str, **params: Any) -> tuple[Any, ...]:
    """One row of a read-only query against a service's database (SQLite or PostgreSQL)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(sql), params)).one()
    finally:
        await engine.dispose()
    return tuple(row)
