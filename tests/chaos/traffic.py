"""What a chaos run publishes, and the ground truth it keeps of it.

The storefront of `make demo`, seeded, with the referral codes it would learn from
`referrals.code.issued.v1` predicted at sign-up instead (codes are a keyed hash of the customer id),
so the same seed gives the same records whatever the services are doing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence, Sized
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from referrals.domain.codes import code_candidates, name_prefix
from wom_contracts import CustomerRegisteredV1
from wom_testkit import bound
from womctl.progress import Advance, progress
from womctl.storefront import RawRecord, Storefront, to_record

__all__ = [
    "CONSUMERS",
    "HASH_KEY",
    "Publisher",
    "Truth",
    "consumers_of",
    "header",
    "storefront_records",
]

HASH_KEY = "wom-chaos-hash-key"
"""REFERRALS_HASH_SECRET of the run's referrals service, so that the harness can predict codes."""

# which service consumes which topic (each service's handlers.py); `Truth` checks it against the inboxes
CONSUMERS: dict[str, tuple[str, ...]] = {
    "commerce.customer.registered.v1": ("referrals", "rewards", "outreach"),
    "commerce.order.completed.v1": ("referrals", "rewards", "outreach"),
    "commerce.order.refunded.v1": ("referrals", "rewards"),
    "commerce.customer.erased.v1": ("referrals", "rewards", "outreach", "feedback"),
    "feedback.response.submitted.v1": ("feedback",),
    "referrals.code.issued.v1": ("outreach",),
    "referrals.referral.qualified.v1": ("rewards",),
    "referrals.referral.reversed.v1": ("rewards",),
    "rewards.reward.granted.v1": ("outreach",),
    "rewards.reward.released.v1": ("outreach",),
    "rewards.reward.revoked.v1": ("outreach",),
    "rewards.points.expiring.v1": ("outreach",),
    "rewards.tier.changed.v1": ("outreach", "feedback"),
    "feedback.promoter.identified.v1": ("outreach",),
    "feedback.case.opened.v1": ("outreach",),
    "feedback.case.resolved.v1": ("outreach", "rewards"),
}


def consumers_of(topic: str) -> tuple[str, ...]:
    return CONSUMERS.get(topic, ())


def header(record: RawRecord, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode(errors="replace")
    return None


class RollingStorefront(Storefront):
    """The demo's storefront with a rolling population: only the `active` most recent customers
    still act (the demo's scans over every customer would make 50,000 events quadratic)."""

    def __init__(self, seed: int, run: str, active: int = 400) -> None:
        super().__init__(seed=seed, run=run)
        self.active = active

    def _live(self) -> list[Any]:
        live = []
        for customer in reversed(self.customers):
            if customer.customer_id not in self.erased:
                live.append(customer)
                if len(live) >= self.active:
                    break
        return live[::-1]


def storefront_records(seed: int, run: str, events: int) -> list[tuple[str, RawRecord]]:
    """`events` records of mixed traffic, each with the storefront's kind, always the same for a seed."""
    shop = RollingStorefront(seed=seed, run=run)
    key = HASH_KEY.encode()
    out: list[tuple[str, RawRecord]] = []
    while len(out) < events:
        step = shop.step()
        for item in step.records:
            if isinstance(item, CustomerRegisteredV1):
                prefix = name_prefix(item.first_name, 10)
                shop.learn_code(
                    item.customer_id, next(code_candidates(item.customer_id, prefix, key=key, length=4))
                )
            out.append((step.kind, to_record(item)))
    return out[:events]


@dataclass
class Truth:
    """Every record the run published and the broker acknowledged: valid events by id, and the
    bad ones (which every consumer of their topic must dead-letter)."""

    valid: dict[str, RawRecord] = field(default_factory=dict)  # ce_id → record
    bad: dict[tuple[str, int, int], RawRecord] = field(default_factory=dict)  # topic, partition, offset
    sends: int = 0  # records sent, duplicates included

    def add(self, record: RawRecord, where: tuple[str, int, int], *, bad: bool = False) -> None:
        if bad:
            self.bad[where] = record
        else:
            event_id = header(record, "ce_id")
            assert event_id, "a valid record without ce_id"
            self.valid[event_id] = record

    def expected(self, service: str) -> set[str]:
        """The ids of the valid events that `service` must have processed."""
        return {event_id for event_id, r in self.valid.items() if service in consumers_of(r.topic)}

    def expected_dead_letters(self) -> Counter[str]:
        return Counter(service for r in self.bad.values() for service in consumers_of(r.topic))


class Publisher:
    """Publishes through the proxy like a shop would; a send that fails (a cut) is sent again
    until the broker acknowledges it, so a record counts as published only when acknowledged."""

    def __init__(self, bootstrap: str, truth: Truth) -> None:
        self.truth = truth
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=5,
            request_timeout_ms=8000, retry_backoff_ms=200, max_request_size=4 * 1024 * 1024,
        )  # fmt: skip
        self.resent = 0

    async def __aenter__(self) -> Publisher:
        deadline = time.monotonic() + bound(60)  # the broker may still be starting, or cut
        while True:
            try:
                await self.producer.start()
                return self
            except KafkaError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.5)

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def publish(self, records: Sequence[RawRecord], *, bad: bool = False) -> None:
        """Send `records` (in order per key) and wait until every one is acknowledged."""
        pending = list(records)
        while pending:
            futures = []
            for record in pending:
                try:
                    futures.append(
                        await self.producer.send(
                            record.topic, record.value, key=record.key, headers=record.headers
                        )
                    )
                except KafkaError as error:
                    futures.append(_failed(error))
            results = await asyncio.gather(*futures, return_exceptions=True)
            self.truth.sends += len(pending)
            retry = [
                r for r, result in zip(pending, results, strict=True) if isinstance(result, BaseException)
            ]
            for record, result in zip(pending, results, strict=True):
                if not isinstance(result, BaseException):
                    self.truth.add(record, (result.topic, result.partition, result.offset), bad=bad)
            if retry:
                self.resent += len(retry)
                await asyncio.sleep(0.5)  # paces the resending of what failed (a cut broker)
            pending = retry

    async def paced(self, records: Iterable[tuple[RawRecord, bool]], rate: float, chunk: int = 50) -> None:
        """Publish (record, bad) pairs at about `rate` records a second, in chunks (a progress bar
        on a terminal)."""
        total = len(records) if isinstance(records, Sized) else None
        with progress(f"publishing at {rate:,.0f}/s", total) as advance:
            await self._paced(records, rate, chunk, advance)

    async def _paced(
        self, records: Iterable[tuple[RawRecord, bool]], rate: float, chunk: int, on_sent: Advance
    ) -> None:
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        batch: list[tuple[RawRecord, bool]] = []
        for item in records:
            batch.append(item)
            if len(batch) >= chunk:
                await self._publish_mixed(batch)
                sent += len(batch)
                on_sent(len(batch))
                batch = []
                ahead = start + sent / rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)  # paces the traffic at `rate`
        if batch:
            await self._publish_mixed(batch)
            on_sent(len(batch))

    async def _publish_mixed(self, batch: list[tuple[RawRecord, bool]]) -> None:
        await asyncio.gather(
            self.publish([r for r, bad in batch if not bad]),
            self.publish([r for r, bad in batch if bad], bad=True),
        )


def _failed(error: Exception) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


def order_record(customer: str, amount: str = "20.00") -> RawRecord:
    """A marker order (EUR, above the minimum, so it earns points)."""
    from datetime import UTC, datetime

    topic = "commerce.order.completed.v1"
    order_id = f"{customer}-o{uuid.uuid4().hex[:10]}"
    data = {
        "order_id": order_id, "customer_id": customer, "total": {"amount": amount, "currency": "EUR"},
        "completed_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    return _shop_record(topic, customer, data)


def survey_record(customer: str, order_id: str, score: int = 8) -> RawRecord:
    from datetime import UTC, datetime

    topic = "feedback.response.submitted.v1"
    data = {
        "response_id": f"{customer}-s{uuid.uuid4().hex[:10]}", "customer_id": customer, "order_id": order_id,
        "kind": "nps", "score": score, "submitted_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    return _shop_record(topic, customer, data)


def _shop_record(topic: str, customer: str, data: dict[str, object]) -> RawRecord:
    from tests.support import cloudevent_headers

    return RawRecord(topic, customer.encode(), json.dumps(data).encode(), cloudevent_headers(topic, customer))
