"""Rewards against a real broker on each database: kill -9 mid-stream and a graceful stop.
(Duplicates and poison for every service: the short versions of `make chaos`, test_chaos.py.)"""

from __future__ import annotations

import json
import uuid

import pytest
from wom_testkit import bound, eventually

from tests.support import cloudevent_headers, query_one

pytestmark = pytest.mark.reliability
TOPIC = "commerce.order.completed.v1"


def order(customer: str, order_id: str, amount: str = "10.00") -> bytes:
    return json.dumps(
        {
            "order_id": order_id,
            "customer_id": customer,
            "total": {"amount": amount, "currency": "EUR"},
            "completed_at": "2026-11-21T12:00:00Z",
        }
    ).encode()


async def ledger_counts(database_url: str, prefix: str) -> tuple[int, int]:
    total, distinct = await query_one(
        database_url,
        "SELECT count(*), count(DISTINCT order_id) FROM ledger_entries WHERE order_id LIKE :p",
        p=f"{prefix}%",
    )
    return int(total), int(distinct)


async def test_kill_9_halfway_through_2000_orders_loses_and_duplicates_nothing(run_service, producer) -> None:  # type: ignore[no-untyped-def]
    prefix = f"k9-{uuid.uuid4().hex[:8]}-"
    # small batches so that the kill lands between many committed transactions
    rewards = run_service("rewards", CONSUME_BATCH_SIZE="50")
    rewards.wait_healthy()
    db = rewards.database_url
    total = 2000
    for n in range(total):
        customer = f"{prefix}c{n % 97}"
        await producer.send(
            TOPIC,
            order(customer, f"{prefix}o{n}"),
            key=customer.encode(),
            headers=cloudevent_headers(TOPIC, customer),
        )
    await producer.flush()

    async def granted() -> int:
        return (await ledger_counts(db, prefix))[0]

    async def halfway() -> bool:
        return await granted() >= total // 2

    await eventually(halfway, timeout=bound(60), every=0.05)
    rewards.kill()
    done_at_kill = await granted()
    assert done_at_kill < total, "the kill came too late to prove anything"

    rewards.start()
    rewards.wait_healthy()

    async def all_granted() -> bool:
        return await granted() >= total

    await eventually(all_granted, timeout=bound(90))
    assert await ledger_counts(db, prefix) == (total, total)

    async def all_announced() -> bool:
        return await announced(db, prefix) == (total, 0)

    await eventually(all_announced, timeout=bound(30))


async def announced(database_url: str, prefix: str) -> tuple[int, int]:
    """Granted events in the outbox for these orders, and how many are still unsent."""
    sent, unsent = await query_one(
        database_url,
        "SELECT count(sent_at), count(*) - count(sent_at) FROM outbox "
        "WHERE event_type = 'rewards.reward.granted.v1' AND strpos(convert_from(value, 'UTF8'), :p) > 0"
        if database_url.startswith("postgresql")
        else "SELECT count(sent_at), count(*) - count(sent_at) FROM outbox "
        "WHERE event_type = 'rewards.reward.granted.v1' AND instr(CAST(value AS TEXT), :p) > 0",
        p=prefix,
    )
    return int(sent), int(unsent)


async def test_sigterm_finishes_the_batch_in_hand_and_flushes_the_outbox(run_service, producer) -> None:  # type: ignore[no-untyped-def]
    prefix = f"term-{uuid.uuid4().hex[:8]}-"
    # a relay batch far smaller than a consumed one: the relay is behind when the stop comes,
    # and everything unsent must still go out, not only the last batch's events
    rewards = run_service("rewards", CONSUME_BATCH_SIZE="100", RELAY_BATCH_SIZE="20")
    rewards.wait_healthy()
    db = rewards.database_url
    total = 3000
    for n in range(total):
        customer = f"{prefix}c{n % 31}"
        await producer.send(TOPIC, order(customer, f"{prefix}o{n}"), key=customer.encode(),
                            headers=cloudevent_headers(TOPIC, customer))  # fmt: skip
    await producer.flush()

    async def started() -> bool:
        return (await ledger_counts(db, prefix))[0] > 0

    await eventually(started, timeout=bound(60), every=0.05)
    assert rewards.stop() is not None  # SIGTERM, then wait for the process to exit
    assert "service_stopped" in rewards.log.read_text()
    stopped_at, _ = await ledger_counts(db, prefix)
    assert stopped_at < total, "the stop came too late to prove anything"
    assert await announced(db, prefix) == (stopped_at, 0)  # everything granted was published

    rewards.start()
    rewards.wait_healthy()

    async def all_granted() -> bool:
        return (await ledger_counts(db, prefix))[0] >= total

    await eventually(all_granted, timeout=bound(90))
    assert await ledger_counts(db, prefix) == (total, total)
