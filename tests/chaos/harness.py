"""One chaos run on a running platform: publish, follow every inbox, probe for stalls, wait until
everything is drained, read the dead letters, and count what was lost."""

from __future__ import annotations

import asyncio
import json
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from itertools import pairwise

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from womctl.progress import progress

from tests.chaos.state import Databases, InboxWatch, Mailbag, due_messages, unsent_outbox
from tests.chaos.traffic import Publisher, Truth, consumers_of, order_record, survey_record
from tests.platform import Platform
from tests.support import SERVICE_NAMES

__all__ = ["DeadLetter", "Harness", "harness"]


@dataclass(frozen=True)
class DeadLetter:
    service: str
    reason: str
    source: tuple[str, int, int]  # topic, partition, offset of the original record


@dataclass
class Markers:
    """A marker customer's order and survey answer every `every` seconds: how long each waited
    before each of its consumers had processed it is the stall of valid traffic."""

    sent: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)  # when, ce_id, consumers

    def max_latency(self, watch: InboxWatch, since: float = 0.0) -> float:
        """The longest a marker waited until every consumer of it had processed it (backlog included)."""
        now = time.monotonic()
        worst = 0.0
        for at, event_id, services in self.sent:
            if at >= since:
                for service in services:
                    worst = max(worst, watch.seen[service].get(event_id, now) - at)
        return worst

    def max_stall(self, watch: InboxWatch, since: float = 0.0) -> float:
        """The longest time a service made no progress while valid work waited for it: a gap
        between two consecutive events appearing in its inbox during which a marker it consumes
        had been published and was not processed yet."""
        now = time.monotonic()
        worst = 0.0
        for service, seen in watch.seen.items():
            waiting = sorted(
                (at, seen.get(event_id, now)) for at, event_id, services in self.sent
                if service in services and at >= since
            )  # fmt: skip
            if not waiting:
                continue
            progress = [*sorted(t for t in seen.values() if t >= waiting[0][0]), now]
            spans: list[list[float]] = []  # when some marker was waiting, merged
            for at, done in waiting:
                if spans and at <= spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], done)
                else:
                    spans.append([at, done])
            starts = [span[0] for span in spans]
            for before, after in pairwise(progress):
                # the spans that overlap this gap in progress: it stalled from the later of the
                # last progress and the moment work began to wait (a service idle when a cut
                # starts stalls from the first marker it cannot get)
                i = bisect_right(starts, after) - 1
                while i >= 0 and spans[i][1] > before:
                    worst = max(worst, min(after, spans[i][1]) - max(before, spans[i][0]))
                    i -= 1
            first_at, first_done = waiting[0]
            worst = max(worst, min(progress[0], first_done) - first_at)  # nothing at all after the first
        return worst


@dataclass
class Harness:
    """What a scenario holds while it runs."""

    platform: Platform
    run: str
    databases: Databases
    watch: InboxWatch
    truth: Truth
    publisher: Publisher
    markers: Markers = field(default_factory=Markers)
    kills: list[tuple[float, str]] = field(default_factory=list)
    exited: list[str] = field(default_factory=list)
    earlier: set[tuple[str, tuple[str, int, int]]] = field(default_factory=set)  # dead letters before the run
    _outbox_at: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERVICE_NAMES, 0))
    _emitted: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SERVICE_NAMES})

    @property
    def mails(self) -> Mailbag:
        return Mailbag(list(self.platform.inbox.arrivals))

    async def probe(self, every: float = 0.5) -> None:
        """Publish marker traffic until cancelled (a background task)."""
        customer = f"{self.run}-marker"
        registration = {"customer_id": customer, "email": f"{customer}@example.com", "locale": "en",
                        "registered_at": "2026-11-21T12:00:00Z", "marketing_consent": False}  # fmt: skip
        from tests.chaos.traffic import _shop_record

        await self.publisher.publish(
            [_shop_record("commerce.customer.registered.v1", customer, registration)]
        )
        while True:
            order = order_record(customer)
            survey = survey_record(customer, json.loads(order.value)["order_id"])
            at = time.monotonic()
            for record in (order, survey):
                event_id = dict(record.headers)["ce_id"].decode()
                self.markers.sent.append((at, event_id, consumers_of(record.topic)))
            await self.publisher.publish([order, survey])
            await asyncio.sleep(max(0.0, every - (time.monotonic() - at)))  # paces the probes

    def expected(self) -> dict[str, set[str]]:
        """Every event each service must have processed: what the run published, and every event
        another service's outbox holds on a topic it consumes."""
        for producer in SERVICE_NAMES:
            rows = self.databases.query(
                producer,
                "SELECT id, event_id, topic FROM outbox WHERE id > ? ORDER BY id",
                self._outbox_at[producer],
            )
            for row_id, event_id, topic in rows:
                self._outbox_at[producer] = row_id
                for service in consumers_of(topic):
                    self._emitted[service].add(event_id)
        return {service: self.truth.expected(service) | self._emitted[service] for service in SERVICE_NAMES}

    def missing(self) -> dict[str, set[str]]:
        self.watch.poll()
        return self.watch.missing(self.expected())

    def check_alive(self) -> None:
        for name, service in self.platform.services.items():
            if service.process is not None and service.process.poll() is not None and name not in self.exited:
                self.exited.append(name)

    async def drained(self, timeout: float, quiet: float = 2.0) -> float:
        """Wait until every expected event is processed, every outbox is empty and the inboxes
        stayed still for `quiet` seconds; how long that took (timeout: gives up). Mail delivery
        (outreach's queue) is waited for apart, in `mails_sent`."""
        start = time.monotonic()
        still_since, last_sizes = time.monotonic(), None
        with progress("draining: events still missing at their consumers") as advance:
            while time.monotonic() - start < timeout:
                self.check_alive()
                missing = await asyncio.to_thread(self.missing)
                advance(completed=sum(len(ids) for ids in missing.values()))
                sizes = tuple(len(seen) for seen in self.watch.seen.values())
                if sizes != last_sizes:
                    still_since, last_sizes = time.monotonic(), sizes
                busy = await asyncio.to_thread(unsent_outbox, self.databases)
                if not any(missing.values()) and not busy and time.monotonic() - still_since >= quiet:
                    return time.monotonic() - start
                await asyncio.sleep(0.5)  # the poll's interval, within the drain's timeout
        return time.monotonic() - start

    async def mails_sent(self, timeout: float) -> int:
        """Wait up to `timeout` s until no message is due; how many are still due then."""
        deadline = time.monotonic() + timeout
        while True:
            due = int(await asyncio.to_thread(due_messages, self.databases))
            if not due or time.monotonic() >= deadline:
                return due
            await asyncio.sleep(0.5)  # the poll's interval, within `timeout`

    def lost(self) -> Counter[str]:
        """Expected events that a service has not processed, by service."""
        return Counter({service: len(ids) for service, ids in self.missing().items() if ids})

    async def dead_letters(
        self, at_least: int = 0, idle: float = 3.0, timeout: float = 120
    ) -> list[DeadLetter]:
        """Every record of the four dead-letter topics, read from the beginning until at least
        `at_least` are in and nothing new came for `idle` seconds."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.platform.bootstrap, enable_auto_commit=False,
                                    max_partition_fetch_bytes=8 * 1024 * 1024)  # fmt: skip
        await consumer.start()
        letters: list[DeadLetter] = []
        try:
            topics = [f"{service}.dlq" for service in SERVICE_NAMES]
            await consumer.topics()
            consumer.assign(
                [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
            )
            await consumer.seek_to_beginning()
            start = last_new = time.monotonic()
            while time.monotonic() - start < timeout:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for partition, records in batch.items():
                    for record in records:
                        headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers}
                        letters.append(DeadLetter(
                            partition.topic.removesuffix(".dlq"), headers.get("dlq.reason", ""),
                            (headers.get("dlq.source.topic", ""),
                             int(headers.get("dlq.source.partition", -1)),
                             int(headers.get("dlq.source.offset", -1))),
                        ))  # fmt: skip
                if batch:
                    last_new = time.monotonic()
                    letters = [d for d in letters if (d.service, d.source) not in self.earlier]
                elif len(letters) >= at_least and time.monotonic() - last_new >= idle:
                    break
        finally:
            await consumer.stop()
        return letters

    def judge_dead_letters(self, letters: list[DeadLetter]) -> tuple[int, int, int]:
        """(bad records not dead-lettered by every consumer of their topic, dead letters without a
        reason, dead letters of records that were not bad), all counted per service."""
        got = Counter((letter.service, letter.source) for letter in letters)
        missing = sum(
            1 for source, record in self.truth.bad.items() for service in consumers_of(record.topic)
            if not got[(service, source)]
        )  # fmt: skip
        without_reason = sum(1 for letter in letters if not letter.reason)
        unexpected = sum(1 for letter in letters if letter.source not in self.truth.bad)
        return missing, without_reason, unexpected


@asynccontextmanager
async def harness(platform: Platform, run: str) -> AsyncIterator[Harness]:
    """A harness on `platform` that follows the inboxes while the block runs."""
    databases = Databases({name: platform.database(name) for name in SERVICE_NAMES})
    watch = InboxWatch(databases)
    truth = Truth()
    async with Publisher(platform.bootstrap, truth) as publisher:
        h = Harness(platform, run, databases, watch, truth, publisher)
        h.earlier = {(d.service, d.source) for d in await h.dead_letters(idle=0.5, timeout=15)}
        follow = asyncio.create_task(watch.follow())
        try:
            yield h
        finally:
            follow.cancel()
            with suppress(asyncio.CancelledError, KafkaError):
                await follow
            databases.close()
