"""What a login attempt may cost: wrong passwords per login name and per client address are
counted in the database (every process and replica sees the same counts) and, past a number of
free attempts, each next attempt waits twice as long as the last, up to a maximum; and password
checks (scrypt, 16 MiB each) run on a pool of a few threads with a short queue, so a flood of
attempts can neither exhaust memory nor starve the event loop.

Written here: the libraries for rate limiting count requests per window, not failures with an
exponential backoff that a success clears, and none keeps its counts in this service's database."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import upsert

from feedback.models import LoginThrottle

__all__ = [
    "Backoff",
    "Busy",
    "PasswordChecks",
    "ThrottleKeys",
    "Throttled",
    "forget",
    "record_failure",
    "wait_seconds",
]

T = TypeVar("T")

FORGET_AFTER = timedelta(hours=24)
"""Failures older than this, with none since, count no more."""


@dataclass(frozen=True)
class Backoff:
    """How long the attempt after `failures` wrong passwords waits: nothing before the
    `free_attempts`-th, then `first_seconds`, twice that, four times … up to `max_seconds`."""

    free_attempts: int
    max_seconds: float
    first_seconds: float = 1.0

    def wait(self, failures: int) -> float:
        if failures < self.free_attempts:
            return 0.0
        return min(self.max_seconds, self.first_seconds * 2.0 ** min(failures - self.free_attempts, 62))


@dataclass(frozen=True)
class ThrottleKeys:
    """The throttle rows of one attempt, keyed by an HMAC (the login names and addresses people
    type or come from are not stored): the login's and the client address's."""

    login: str
    address: str

    @classmethod
    def of(cls, secret: bytes, login: str, address: str) -> ThrottleKeys:
        def key(kind: str, value: str) -> str:
            return f"{kind}:" + hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()

        return cls(login=key("login", login.strip().lower()), address=key("address", address))


async def wait_seconds(db: AsyncSession, keys: ThrottleKeys, now: datetime) -> int:
    """Whole seconds until an attempt with these keys is taken (0: now)."""
    until = (
        await db.scalars(
            select(LoginThrottle.blocked_until).where(LoginThrottle.key.in_([keys.login, keys.address]))
        )
    ).all()
    latest = max((moment for moment in until if moment is not None), default=now)
    return max(0, math.ceil((latest - now).total_seconds()))


async def record_failure(db: AsyncSession, key: str, backoff: Backoff, now: datetime) -> None:
    """Count a wrong password against `key` and set its wait (in the caller's transaction; the
    row is locked on PostgreSQL, so attempts at once count one by one)."""
    await upsert(
        db,
        LoginThrottle,
        {"key": key, "failures": 0, "last_failure_at": now, "blocked_until": None},
        key=["key"],
        update=[],
    )
    row = (await db.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())).one()
    failures = 1 if now - row.last_failure_at > FORGET_AFTER else row.failures + 1
    row.failures = failures
    row.last_failure_at = now
    wait = backoff.wait(failures)
    row.blocked_until = now + timedelta(seconds=wait) if wait else None


async def forget(db: AsyncSession, key: str) -> None:
    """Clear the failures of `key` (a successful login clears its login's, not its address's)."""
    await db.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


class Busy(Exception):
    """Every password-check slot and queue place is taken: try again in a second."""


class Throttled(Exception):
    """Too many wrong passwords for this login or from this address: try again in `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


class PasswordChecks:
    """Password checks on `workers` threads of their own, with at most as many again waiting;
    beyond that `Busy` at once (the caller answers 503), so memory stays at `workers` checks."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-check")
        self._limit = 2 * workers
        self._admitted = 0  # one event loop per process: no lock needed

    async def run(self, check: Callable[..., T], *args: object) -> T:
        if self._admitted >= self._limit:
            raise Busy
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, check, *args)
        finally:
            self._admitted -= 1
