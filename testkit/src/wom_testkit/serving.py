"""Waiting for a condition, free ports, an ASGI app served for real."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

__all__ = ["TIMEOUT_SCALE", "bound", "eventually", "free_port", "serving", "timeout_scale"]


def timeout_scale(value: str | None) -> float:
    """The factor `WOM_TEST_TIMEOUT_SCALE` gives every wait of the tests (1 when unset or empty)."""
    if value is None or not value.strip():
        return 1.0
    try:
        scale = float(value)
    except ValueError:
        raise ValueError(f"WOM_TEST_TIMEOUT_SCALE must be a number greater than 0, not {value!r}") from None
    if not scale > 0 or scale == float("inf"):
        raise ValueError(f"WOM_TEST_TIMEOUT_SCALE must be a number greater than 0, not {value!r}")
    return scale


TIMEOUT_SCALE = timeout_scale(os.environ.get("WOM_TEST_TIMEOUT_SCALE"))
"""Read once, here only: a loaded machine widens every wait of the tests at once with it."""


def bound(seconds: float) -> float:
    """How long a wait for a condition may take: `seconds` on an idle machine, times
    `WOM_TEST_TIMEOUT_SCALE`."""
    return seconds * TIMEOUT_SCALE


async def eventually(check: Callable[[], Any], timeout: float | None = None, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy, up to `timeout` seconds (`bound(15)` by
    default); fail with its last value."""
    timeout = bound(15) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"not true within {timeout}s (last value {value!r})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free port of 127.0.0.1 in this event loop (lifespan
    off: the test runs whatever the app needs itself); yield its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + bound(15)
    while not server.started:
        if task.done():
            task.result()  # it could not start: raise why
        if time.monotonic() >= deadline:
            server.should_exit = True
            await task
            raise AssertionError(f"the app was not served within {bound(15)}s")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
