"""Kafka clients for operator commands: connected within a bounded time, or one clear error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NoBrokersAvailable,
    NodeNotReadyError,
    RequestTimedOutError,
)

__all__ = ["DEFAULT_TIMEOUT", "ClusterUnreachable", "admin_client", "consumer", "producer"]

DEFAULT_TIMEOUT = 10.0
Client = TypeVar("Client", AIOKafkaAdminClient, AIOKafkaConsumer, AIOKafkaProducer)

# What a cluster that is down, unreachable or too slow looks like to aiokafka, once connected ...
_LOST = (KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable, NodeNotReadyError, RequestTimedOutError)
# ... and while connecting (a name that does not resolve is an OSError)
_UNREACHABLE = (*_LOST, OSError, TimeoutError)


class ClusterUnreachable(Exception):
    """The cluster did not answer in time; the message names where it was looked for."""

    def __init__(self, bootstrap: str, reason: str) -> None:
        super().__init__(f"cannot reach Kafka at {bootstrap}: {reason}")
        self.bootstrap = bootstrap


class _LastConnectError(logging.Handler):
    """aiokafka logs why each bootstrap server failed and raises a generic error: keep the why."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Unable"):
            self.last = message.split(": ", 1)[-1]


def _reason(error: BaseException, timeout: float, logged: str | None = None) -> str:
    if isinstance(error, TimeoutError | KafkaTimeoutError | RequestTimedOutError):
        return f"no answer within {timeout:g}s"
    return logged or str(error) or type(error).__name__


@asynccontextmanager
async def _connected(
    client: Client, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]],
    bootstrap: str, timeout: float,
) -> AsyncIterator[Client]:  # fmt: skip
    logged = _LastConnectError()
    logging.getLogger("aiokafka").addHandler(logged)
    try:
        async with asyncio.timeout(timeout):
            await start()
    except _UNREACHABLE as error:
        await stop()
        raise ClusterUnreachable(bootstrap, _reason(error, timeout, logged.last)) from None
    finally:
        logging.getLogger("aiokafka").removeHandler(logged)
    try:
        yield client
    except _LOST as error:
        raise ClusterUnreachable(bootstrap, _reason(error, timeout)) from None
    finally:
        await stop()


def _options(options: dict[str, Any], timeout: float) -> dict[str, Any]:
    return {**options, "request_timeout_ms": int(timeout * 1000)}


@asynccontextmanager
async def admin_client(
    options: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client, connected; ClusterUnreachable when the cluster does not answer in time."""
    admin = AIOKafkaAdminClient(**_options(options, timeout))
    async with _connected(admin, admin.start, admin.close, options["bootstrap_servers"], timeout) as client:
        yield client


@asynccontextmanager
async def consumer(
    options: dict[str, Any], timeout: float = DEFAULT_TIMEOUT, **settings: Any
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer that commits nothing by itself (group_id=None unless given), connected."""
    client = AIOKafkaConsumer(enable_auto_commit=False, **settings, **_options(options, timeout))
    async with _connected(client, client.start, client.stop, options["bootstrap_servers"], timeout) as c:
        yield c


@asynccontextmanager
async def producer(
    options: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
) -> AsyncIterator[AIOKafkaProducer]:
    """A producer waiting for every replica (idempotence off: the embedded broker rejects it)."""
    client = AIOKafkaProducer(enable_idempotence=False, acks="all", **_options(options, timeout))
    async with _connected(client, client.start, client.stop, options["bootstrap_servers"], timeout) as p:
        yield p
