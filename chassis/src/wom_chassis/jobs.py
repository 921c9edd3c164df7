"""Scheduled jobs: a function run every few seconds inside a service, next to its consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from wom_chassis.logs import get_logger
from wom_chassis.metrics import JOB_RUNS, JOB_SECONDS

if TYPE_CHECKING:
    from wom_chassis.service import BackgroundTask, Service

__all__ = ["every"]

log = get_logger(__name__)


def every(seconds: float, job: Callable[[Service], Awaitable[object]], *, name: str) -> BackgroundTask:
    """A background task that runs `job(service)` now and then every `seconds`; a failing run
    is logged and counted, and the next one comes on schedule (a job must be safe to repeat).

    Where several processes of a service share a PostgreSQL database (`WORKERS`, replicas),
    one run at a time holds the job's advisory lock; a process that finds it held skips its
    turn (counted as `elsewhere`), so a job never runs twice at once, and a dead holder's lock
    goes with its connection."""

    async def run(service: Service) -> None:
        lock = f"{service.settings.service_name}:job:{name}"
        while True:
            started = time.perf_counter()
            held = True
            try:
                async with service.db.holding(lock) as held:
                    if held:
                        await job(service)
            except Exception:
                JOB_RUNS.labels(service.settings.service_name, name, "failed").inc()
                log.exception("job_failed", job=name)
            else:
                outcome = "ok" if held else "elsewhere"  # the lock's connection is back in the pool
                JOB_RUNS.labels(service.settings.service_name, name, outcome).inc()
            if held:
                JOB_SECONDS.labels(service.settings.service_name, name).observe(time.perf_counter() - started)
            await asyncio.sleep(seconds)

    run.__name__ = f"job_{name}"
    return run
