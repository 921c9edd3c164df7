"""`WORKERS=2` on PostgreSQL: two consumer processes of rewards in one group share a stream and
process it exactly once; one of them killed with -9 mid-stream hands its partitions over (and
is started again) with nothing lost or doubled. On SQLite the setting is refused at start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from wom_testkit import POSTGRES_ENV, bound, empty_database_url, eventually, free_port, sibling_database_url

from tests.reliability.test_rewards_reliability import TOPIC, announced, ledger_counts, order
from tests.support import API_TOKEN, ServiceProcess, cloudevent_headers, forked_children, wait_until

pytestmark = pytest.mark.reliability


def workers_of(service: ServiceProcess) -> list[int]:
    """The pids of the processes the service's parent forked."""
    assert service.process is not None
    return forked_children(service.process.pid)


@pytest.fixture
async def rewards_on_postgres(kafka_bootstrap: str, tmp_path: Path) -> ServiceProcess:
    postgres = os.environ.get(POSTGRES_ENV)
    if not postgres:
        pytest.skip(f"{POSTGRES_ENV} is not set: WORKERS needs PostgreSQL")
    url = await sibling_database_url(postgres, "rewards")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": await empty_database_url(url, tmp_path),
        "HTTP_PORT": str(free_port()),
        "API_TOKEN": API_TOKEN,
        "CONSUMER_GROUP": f"rewards-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "INFO",
        "WORKERS": "2",
        "CONSUME_BATCH_SIZE": "50",  # many transactions, so that the kill lands between them
        "CONSUMER_SESSION_TIMEOUT_MS": "6000",  # the dead worker's partitions move on sooner
    }
    return ServiceProcess("rewards", env, tmp_path / "rewards.log")


async def test_two_workers_share_a_stream_exactly_once_and_a_killed_one_hands_over(
    rewards_on_postgres: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    rewards = rewards_on_postgres.start()
    try:
        rewards.wait_healthy()
        first, second = wait_until(lambda: len(workers_of(rewards)) == 2 and workers_of(rewards))
        db = rewards.database_url
        prefix = f"w2-{uuid.uuid4().hex[:8]}-"
        total = 2000
        for n in range(total):
            customer = f"{prefix}c{n % 97}"  # keys on every partition
            await producer.send(TOPIC, order(customer, f"{prefix}o{n}"), key=customer.encode(),
                                headers=cloudevent_headers(TOPIC, customer))  # fmt: skip
        await producer.flush()

        async def granted() -> int:
            return (await ledger_counts(db, prefix))[0]

        await eventually(lambda: _at_least(granted, total // 3), timeout=bound(90), every=0.05)
        os.kill(first, signal.SIGKILL)
        assert await granted() < total, "the kill came too late to prove anything"

        await eventually(lambda: _at_least(granted, total), timeout=bound(120))
        assert await ledger_counts(db, prefix) == (total, total)  # nothing lost, nothing doubled

        async def all_announced() -> bool:
            return await announced(db, prefix) == (total, 0)

        await eventually(all_announced, timeout=bound(60))
        log = rewards.log.read_text()
        # both consumed (each wrote its partitions' offsets), and the dead one was started again
        assert log.count('"service_started"') >= 3, log[-3000:]
        assert f'"pid": {first}' in log and "worker_exited" in log
        restarted = wait_until(lambda: len(workers_of(rewards)) == 2 and workers_of(rewards))
        assert second in restarted and first not in restarted
    finally:
        assert rewards.stop() == 0  # SIGTERM to the parent stops both workers gracefully
    assert rewards.log.read_text().count('"service_stopped"') == 2


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


def test_workers_on_sqlite_are_refused_at_start_up_with_the_reason(tmp_path: Path) -> None:
    env = {**os.environ, "WORKERS": "2", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db"}
    done = subprocess.run(
        [sys.executable, "-c", "from rewards.app import main; main()"],
        env=env, capture_output=True, text=True, timeout=bound(120),
    )  # fmt: skip
    assert done.returncode != 0
    assert "WORKERS=2 needs PostgreSQL: on SQLite WORKERS must be 1" in done.stderr
