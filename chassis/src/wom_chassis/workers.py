"""`WORKERS=N`: N consumer processes of one service in its consumer group, forked after the
imports, under a parent that only starts, watches and stops them.

The parent builds the service once (imports, rules, templates), migrates the database (in turn
with any other process that starts at the same moment), binds the HTTP socket, freezes what it
built out of the cycle collector's scans and forks: the workers share those pages until one
writes them. Each worker is a whole service process: its own broker clients in the group (the
partitions are shared among them), its own outbox relay publishing the rows its transactions
commit, and the HTTP API on the shared socket (the kernel hands each connection to one of
them). Work that spans partitions is serialised in the database: each batch locks its records'
keys (`serialise`), and a scheduled job runs in one process at a time (`Database.holding`).

A worker that dies is started again after a pause; its partitions go to the others once the
group notices (`CONSUMER_SESSION_TIMEOUT_MS`), and what it had not committed is consumed again
there, the inbox dropping what it had. SIGTERM or SIGINT to the parent stops every worker
gracefully (each finishes its batch and flushes its outbox) and waits for them.

Written here rather than taken from a process manager: gunicorn's or uvicorn's own workers
restart HTTP servers, but do not fork after a service's start-up work nor migrate first, and
the service must stay one command (`wom-<service>`) with one setting.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import socket
import time
from contextlib import suppress
from typing import TYPE_CHECKING

import structlog
import uvicorn

from wom_chassis.logs import get_logger

if TYPE_CHECKING:
    from wom_chassis.service import Service

__all__ = ["serve_workers"]

log = get_logger(__name__)
RESTART_PAUSE_SECONDS = 1.0


def serve_workers(service: Service, config: uvicorn.Config, workers: int) -> int:
    """Run `workers` forked service processes until SIGTERM or SIGINT; the exit status."""
    asyncio.run(_migrate(service))
    service.settings.run_migrations = False  # done, once, before the fork
    listener = config.bind_socket()
    children: dict[int, int] = {}  # pid -> worker number
    stopping: list[int] = []

    def spawn(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's loop
            code = _work(service, config, listener, number)
            atexit._run_exitfuncs()  # what exit would run (the span exporter's last flush)
            os._exit(code)
        children[pid] = number
        log.info("worker_started", worker=number, pid=pid)

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        for pid in children:
            with suppress(ProcessLookupError):  # exited between the wait and the signal
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(workers):
        if not stopping:
            spawn(number)
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        number = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if stopping:  # a worker stopped by the signal it was sent (uvicorn raises it again at the end)
            failed = failed or code not in (0, -stopping[0])
            continue
        log.warning("worker_exited", worker=number, pid=pid, status=code, restart_in=RESTART_PAUSE_SECONDS)
        time.sleep(RESTART_PAUSE_SECONDS)
        if not stopping:
            spawn(number)
    listener.close()
    log.info("workers_stopped", workers=workers)
    return 1 if failed else 0


async def _migrate(service: Service) -> None:
    try:
        await service.db.migrate()
    finally:
        await service.db.dispose()  # no connection of the parent's crosses the fork


def _work(service: Service, config: uvicorn.Config, listener: socket.socket, number: int) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # uvicorn installs its own handlers
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    structlog.contextvars.bind_contextvars(worker=number)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except BaseException:
        log.exception("worker_failed", worker=number)
        return 1
    return 0
