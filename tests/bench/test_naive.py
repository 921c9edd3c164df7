"""The naive baseline (tests/bench/naive.py) as the bench runs it: its own process on a fresh
embedded broker consumes and commits a few orders, each once, and acks them all."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from wom_contracts import RewardGrantedV1
from wom_contracts.codec import decode

from tests.bench.consume import naive_throughput
from tests.bench.harness import embedded_broker, produce
from tests.bench.inputs import rewards_inputs


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The offsets `group` has committed on `topic`, summed over its partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata: the topic's partitions
        partitions = consumer.partitions_for_topic(topic) or set()
        offsets = [await consumer.committed(TopicPartition(topic, p)) for p in partitions]
    finally:
        await consumer.stop()
    return sum(offset or 0 for offset in offsets)


def test_the_naive_baseline_commits_each_order_once(tmp_path: Path) -> None:
    orders = rewards_inputs("naive", 6)  # one customer: one partition, in the order sent
    sent = [*orders[:4], orders[1], *orders[4:]]  # the second order redelivered
    with embedded_broker() as bootstrap:
        asyncio.run(produce(bootstrap, sent))
        result = naive_throughput(bootstrap, tmp_path, orders, stuck=60)
        committed = asyncio.run(_committed(bootstrap, result.group, orders[0].topic))
    with closing(sqlite3.connect(result.database)) as db:
        inbox = [row[0] for row in db.execute("SELECT ce_id FROM inbox")]
        entries = db.execute("SELECT order_id, points FROM ledger").fetchall()
        outbox = db.execute("SELECT value, headers FROM outbox").fetchall()
    ids = [dict(order.headers)["ce_id"].decode() for order in orders]
    assert sorted(inbox) == sorted(ids)
    amounts = {f"naive-o{n}": Decimal(10 + n) + Decimal("0.99") for n in range(6)}
    ledger = dict(entries)
    assert len(entries) == len(ledger) == len(orders)  # the redelivery added nothing: the inbox works
    assert ledger == {order_id: math.floor(amount) for order_id, amount in amounts.items()}
    granted = [
        decode(value, [(name, text.encode()) for name, text in json.loads(headers).items()]).event
        for value, headers in outbox
    ]
    assert all(isinstance(event, RewardGrantedV1) for event in granted)
    assert sorted((g.order_id, g.points) for g in granted) == sorted(ledger.items())  # type: ignore[attr-defined]
    assert committed == len(sent)  # every record acked, the duplicate too
    assert result.events == len(orders) and result.consumed > 0
    (log,) = tmp_path.glob("naive-*.log")
    assert "Traceback" not in log.read_text()
