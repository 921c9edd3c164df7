"""Where a test run's Kafka broker and PostgreSQL come from, decided once for the run:

1. the ones the environment names (`KAFKA_BOOTSTRAP_SERVERS`, `WOM_TEST_POSTGRES_URL`);
2. else, with `WOM_TESTCONTAINERS=1` and a Docker engine that answers, containers started by
   testcontainers: Apache Kafka (`apache/kafka`, KRaft) and PostgreSQL (`postgres:16-alpine`);
3. else the embedded broker, and the local PostgreSQL that scripts/bootstrap sets up (role wom/wom,
   database wom_test) when it answers; without one the PostgreSQL variants skip, saying why.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import make_url

from wom_testkit.serving import free_port

__all__ = [
    "CONTAINERS_ENV",
    "KAFKA_ENV",
    "KAFKA_IMAGE",
    "LOCAL_POSTGRES_URL",
    "POSTGRES_ENV",
    "POSTGRES_IMAGE",
    "Source",
    "Sources",
    "choose_sources",
    "chosen_sources",
    "docker_engine_answers",
    "kafka_container",
    "local_postgres_answers",
    "postgres_container",
    "postgres_url",
]

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
POSTGRES_ENV = "WOM_TEST_POSTGRES_URL"
CONTAINERS_ENV = "WOM_TESTCONTAINERS"
LOCAL_POSTGRES_URL = "postgresql+asyncpg://wom:wom@127.0.0.1:5432/wom_test"
KAFKA_IMAGE = "apache/kafka:3.9.0"
POSTGRES_IMAGE = "postgres:16-alpine"

Kind = Literal["configured", "container", "embedded", "local", "absent"]


@dataclass(frozen=True)
class Source:
    """Where one dependency comes from, why, and its address when it is known before the run."""

    kind: Kind
    why: str
    url: str | None = None

    def describe(self) -> str:
        """One line for the report header: the kind, the address (no password) and the reason."""
        if not self.url:
            return f"{self.kind} ({self.why})"
        # a database URL without its password; a broker's host:port as it is
        where = make_url(self.url).render_as_string(hide_password=True) if "://" in self.url else self.url
        return f"{self.kind} {where} ({self.why})"


@dataclass(frozen=True)
class Sources:
    kafka: Source
    postgres: Source


def _containers_wanted(environ: Mapping[str, str]) -> bool:
    value = environ.get(CONTAINERS_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{CONTAINERS_ENV} must be 1 (use testcontainers) or 0, not {value!r}")
    return value == "1"


def choose_sources(
    environ: Mapping[str, str],
    engine_answers: Callable[[], bool],
    local_postgres_answers: Callable[[], bool] = lambda: False,
) -> Sources:
    """Where the broker and PostgreSQL come from (the order in the module's docstring). The probes
    are asked only when the answer matters, the engine at most once."""
    wanted = _containers_wanted(environ)

    @functools.cache
    def engine() -> bool:
        return wanted and engine_answers()

    if not wanted:
        no_containers = f"{CONTAINERS_ENV} is not 1"
    else:
        no_containers = f"{CONTAINERS_ENV}=1 but no Docker engine answers"
    containers = f"{CONTAINERS_ENV}=1 and a Docker engine answers"

    if broker := environ.get(KAFKA_ENV, "").strip():
        kafka = Source("configured", f"{KAFKA_ENV} is set", broker)
    elif engine():
        kafka = Source("container", f"{KAFKA_ENV} is not set, {containers}: {KAFKA_IMAGE} in KRaft mode")
    else:
        kafka = Source("embedded", f"{KAFKA_ENV} is not set, {no_containers}")

    if database := environ.get(POSTGRES_ENV, "").strip():
        postgres = Source("configured", f"{POSTGRES_ENV} is set", database)
    elif engine():
        postgres = Source("container", f"{POSTGRES_ENV} is not set, {containers}: {POSTGRES_IMAGE}")
    elif local_postgres_answers():
        postgres = Source("local", f"{POSTGRES_ENV} is not set, {no_containers}", LOCAL_POSTGRES_URL)
    else:
        postgres = Source(
            "absent",
            f"{POSTGRES_ENV} is not set, {no_containers}, and no PostgreSQL answers as wom/wom at "
            "127.0.0.1:5432/wom_test (scripts/bootstrap sets one up when run as root)",
        )
    return Sources(kafka, postgres)


def docker_engine_answers() -> bool:
    """Whether a Docker engine (DOCKER_HOST, or the local socket) answers a ping within 3 s."""
    import docker  # testcontainers' client

    try:
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, refused, no permission, timeout: no engine for the tests
        return False


def local_postgres_answers() -> bool:
    """Whether the local PostgreSQL of scripts/bootstrap accepts wom/wom on wom_test within 2 s."""
    import asyncpg

    async def connect() -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=5432, user="wom", password="wom", database="wom_test", timeout=2
        )
        await connection.close()

    try:
        asyncio.run(connect())
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    return True


@functools.cache
def chosen_sources() -> Sources:
    """The choice for this process, made once, with the real probes."""
    return choose_sources(os.environ, docker_engine_answers, local_postgres_answers)


def postgres_url(source: Source, containers: ExitStack) -> str | None:
    """The URL of the run's PostgreSQL: the one named or the local one, or a container's, started
    now and stopped when `containers` closes; None when there is none."""
    if source.kind == "container":
        return containers.enter_context(postgres_container())
    return source.url


@contextmanager
def kafka_container() -> Iterator[str]:
    """Apache Kafka in KRaft mode (one node, broker and controller) in a container; yields its
    bootstrap address. The host port is chosen first, since the broker advertises it."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host, port = DockerClient().host(), free_port()
    settings = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_envs(**settings)
        .with_bind_ports(9092, port)
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )
    with container:
        yield f"{host}:{port}"


@contextmanager
def postgres_container() -> Iterator[str]:
    """PostgreSQL in a container with the role wom/wom and the databases the tests use (wom_test
    and one per service); yields the URL of wom_test."""
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer(
        POSTGRES_IMAGE, username="wom", password="wom", dbname="wom_test", driver="asyncpg"
    ) as container:  # the services' databases beside wom_test are created on demand
        yield container.get_connection_url()
