"""The relay's producer puts every key on the partition aiokafka's default producer picks."""

from __future__ import annotations

import random
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from wom_chassis.publishing import KeyPartitioner, RecordProducer


async def test_a_key_goes_where_the_default_producer_sends_it(kafka_bootstrap: str) -> None:
    counts = {f"keys-{uuid.uuid4().hex[:8]}-{n}": n for n in (1, 7, 12)}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, n, 1) for topic, n in counts.items()])
    finally:
        await admin.close()
    rng = random.Random(16)
    keys = [f"c-{n}".encode() for n in range(300)]
    keys += [rng.randbytes(rng.randrange(0, 64)) for _ in range(700)]  # any length, any bytes
    default = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    relays = RecordProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await default.start()
    partitioner, forgetful = KeyPartitioner(), KeyPartitioner(max_keys=10)
    try:
        for topic, count in counts.items():
            ids = await relays.partitions(topic)
            assert sorted(ids) == list(range(count))
            deliveries = [await default.send(topic, b"-", key=key) for key in keys]
            chosen = [(await delivery).partition for delivery in deliveries]
            assert [partitioner(key, ids) for key in keys] == chosen
            assert [partitioner(key, ids) for key in keys] == chosen  # and again, from the cache
            assert [forgetful(key, ids) for key in keys] == chosen  # a bounded cache, computed again
    finally:
        await default.stop()
        await relays.stop()
