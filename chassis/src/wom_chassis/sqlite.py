"""SQLite, the embedded default: statements on the event loop's thread, lock waits asynchronous.

aiosqlite hands every call (execute, fetch, close of a cursor; commit) to a thread of its own
and waits for the answer: two thread switches a call, three calls a statement. On the 2-core
machines wom runs on that costs 300–400 µs of CPU a statement (`tests/bench/inprocess.py`),
more than SQLAlchemy and the statement itself, and it was most of the consume path of every
service that reads the database per event. A statement on a local file in WAL mode takes
microseconds, so here every call runs on the calling thread, the event loop's. The one wait
that can be long, another process's write lock, is not waited for in SQLite's busy handler
(that would stop the loop: heartbeats, the relay, health) but here, asleep on the loop.

This replaces one method of `aiosqlite.Connection`, `_execute`, the one every call goes through
(SQLAlchemy's aiosqlite dialect reaches into the same class); `uv.lock` pins the version and
the whole suite runs on it. aiosqlite's thread still opens and closes the connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite

__all__ = ["LOCK_WAIT_SECONDS", "connector"]

LOCK_WAIT_SECONDS = 30.0
"""How long a statement waits for another connection's write lock before it fails."""
_FIRST_POLL_SECONDS = 0.001
_LAST_POLL_SECONDS = 0.05
_LOOP_TURN_SECONDS = 0.005
"""The longest stretch of statements before the loop's other tasks get a turn."""


class _LoopThreadConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling thread."""

    _turn_given_at = 0.0  # for every connection of the process: they share its one event loop

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        poll = _FIRST_POLL_SECONDS
        while True:
            try:
                result = fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY (not one of its extended codes): another connection holds the
                # lock and the call did nothing; it can be made again. busy_timeout is 0.
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(poll)
                poll = min(poll * 2, _LAST_POLL_SECONDS)
                continue
            # let the loop's other tasks (heartbeats, the relay, health) in between statements:
            # a batch's transaction would otherwise hold the loop from its first to its last
            now = time.monotonic()
            if now - _LoopThreadConnection._turn_given_at >= _LOOP_TURN_SECONDS:
                _LoopThreadConnection._turn_given_at = now
                await asyncio.sleep(0)
            return result


def connector(database: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """SQLAlchemy's `async_creator` for the SQLite file (or `:memory:`) `database`."""

    async def connect() -> aiosqlite.Connection:
        connection = _LoopThreadConnection(
            partial(sqlite3.connect, database, check_same_thread=False), iter_chunk_size=64
        )
        connection._thread.daemon = True  # as SQLAlchemy does: an unclosed one must not block exit
        return await connection

    return connect
