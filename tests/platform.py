"""The whole platform as real processes, for the chaos and bench runs.

    async with running_platform(directory, proxy=True) as platform:
        platform.services["rewards"].kill(); platform.start("rewards")
        with platform.proxy.cut(): ...        # every broker connection dropped, new ones refused

An embedded broker (Tansu) that advertises a TCP proxy in front of it when `proxy` is asked for,
so every client (the services and the run's own producer) reaches the broker through the proxy;
an SMTP inbox; and the services, each on a SQLite file of its own in `directory`, with jobs every
second and the shipped rules changed where the run asks.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wom_testkit import MailInbox, free_port, rules_file
from womctl.broker import EmbeddedBroker
from womctl.topics import create_topics

from tests.support import API_TOKEN, SERVICE_NAMES, ServiceProcess

__all__ = ["Platform", "TcpProxy", "TimedInbox", "running_platform"]

ROOT = Path(__file__).resolve().parents[1]


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`, one thread per connection pair. `cut()` drops every
    open connection and refuses new ones until it ends, as a network partition would look to a client."""

    def __init__(self, target: tuple[str, int], port: int | None = None) -> None:
        self.target = target
        self.port = port or free_port()
        self.cuts = 0
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(pair,), name="proxy-pump", daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        other = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(65536)
                        if not data:
                            return
                        other[source].sendall(data)
            except (OSError, ValueError):
                return
            finally:
                self._drop(pair)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for sock in pair:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @contextmanager
    def cut(self) -> Iterator[None]:
        """No connection through the proxy while the block runs."""
        self._open.clear()
        self.cuts += 1
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)
        try:
            yield
        finally:
            self._open.set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)


class TimedInbox(MailInbox):
    """The SMTP inbox, with the moment (`time.monotonic()`) each mail was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        self.arrivals.append((time.monotonic(), self.messages[-1]))
        return answer


@dataclass
class Platform:
    """What a run holds of the running platform."""

    directory: Path
    bootstrap: str
    inbox: TimedInbox
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    proxy: TcpProxy | None = None

    def start(self, name: str) -> ServiceProcess:
        """Start (or restart, after a kill) one service on its own database and port."""
        return self.services[name].start()

    def database(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    def wait_healthy(self, timeout: float | None = None) -> None:
        for service in self.services.values():
            service.wait_healthy(timeout)


def _rules(directory: Path, name: str, changes: dict[str, Any]) -> Path:
    (directory / f"{name}-rules").mkdir(exist_ok=True)
    shipped = ROOT / "services" / name / "src" / name / "rules.default.yaml"
    return rules_file(directory / f"{name}-rules", shipped, changes)


@asynccontextmanager
async def running_platform(
    directory: Path,
    *,
    names: tuple[str, ...] = SERVICE_NAMES,
    proxy: bool = False,
    env: dict[str, str] | None = None,
    rules: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[Platform]:
    """Broker (behind a proxy if asked), inbox and services started and healthy; all stopped after."""
    advertised = free_port() if proxy else None
    with EmbeddedBroker(advertised_port=advertised) as broker, TimedInbox() as inbox:
        front = TcpProxy((broker.host, broker.port), advertised) if advertised else None
        try:
            await create_topics(broker.bootstrap)
            platform = Platform(directory, broker.bootstrap, inbox, proxy=front)
            common = {
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "API_TOKEN": API_TOKEN, "LOG_LEVEL": "WARNING",
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(inbox.port),
                "RELEASE_EVERY_SECONDS": "1", "BREACH_EVERY_SECONDS": "1", "DELIVERY_EVERY_SECONDS": "0.5",
                "SCHEDULE_EVERY_SECONDS": "1",
                **(env or {}),
            }  # fmt: skip
            for name in names:
                port = free_port()
                service_env = {
                    **common,
                    "DATABASE_URL": f"sqlite+aiosqlite:///{platform.database(name)}",
                    "HTTP_PORT": str(port),
                    f"{name.upper()}_PUBLIC_URL": f"http://127.0.0.1:{port}",
                }
                if rules and name in rules:
                    service_env[f"{name.upper()}_RULES_FILE"] = str(_rules(directory, name, rules[name]))
                platform.services[name] = ServiceProcess(name, service_env, directory / f"{name}.log").start()
            try:
                await asyncio.to_thread(platform.wait_healthy)
                yield platform
            finally:
                for service in platform.services.values():
                    service.stop()
        finally:
            if front is not None:
                front.close()
