"""womctl's operator commands against a real broker: topics apply|list, lag, dlq show.

Against the embedded broker by default (KAFKA_BOOTSTRAP_SERVERS when set); every test works on
topics and groups of its own. The CLI runs in-process, so these tests are synchronous.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner
from womctl import cli, deadletters
from womctl.lag import consumer_lag
from womctl.topic_configs import describe_topic_configs

HOUR_MS = 3600 * 1000


@pytest.fixture
def womctl(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    monkeypatch.setattr(cli, "console", Console(width=250))  # tables unwrapped, one row a line

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli.app, list(args), env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})

    yield run


def definition(path: Path, topics: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump({
        "defaults": {"partitions": 1, "config": {"cleanup.policy": "delete", "retention.ms": HOUR_MS}},
        "topics": topics,
    }))  # fmt: skip
    return str(path)


def row(output: str, *cells: object) -> bool:
    """True when a table line holds these cells in this order."""
    pattern = r"\s*│\s*".join(re.escape(str(cell)) for cell in cells)
    return any(re.search(pattern, line) for line in output.splitlines())


def test_topics_apply_creates_corrects_and_then_has_nothing_to_do(
    womctl: Callable[..., Result], kafka_bootstrap: str, tmp_path: Path
) -> None:
    a, b = (f"ops-{uuid.uuid4().hex[:8]}.{n}" for n in "ab")
    first = definition(tmp_path / "first.yaml", {a: {"partitions": 2}, b: {"partitions": 2}})
    created = womctl("topics", "apply", "--definition", first)
    assert created.exit_code == 0, created.output
    configs = "cleanup.policy=delete, retention.ms=3600000"
    assert f"{a}: created, 2 partitions, replication factor 1, {configs}" in created.stdout
    for again in (womctl("topics", "apply", "--definition", first), womctl("topics", "--definition", first)):
        assert again.exit_code == 0 and again.stdout.startswith("nothing to change"), again.output

    # the file asks for a longer retention and more partitions on a, fewer partitions on b
    second = definition(tmp_path / "second.yaml", {
        a: {"partitions": 3, "config": {"retention.ms": 2 * HOUR_MS}}, b: {"partitions": 1},
    })  # fmt: skip
    changed = womctl("topics", "apply", "--definition", second)
    assert f"{a}: retention.ms 3600000 → 7200000" in changed.stdout
    assert f"{b}: has 2 partitions, the file asks for 1; partitions are never decreased" in changed.stdout
    grown = f"{a}: partitions 2 → 3" in changed.stdout  # Apache Kafka; the embedded broker cannot
    assert grown or f"{a}: has 2 partitions, the file asks for 3; this broker cannot add" in changed.stdout
    assert changed.exit_code == (0 if grown else 1), changed.output
    assert asyncio.run(retention_of(kafka_bootstrap, a)) == str(2 * HOUR_MS)

    settled = womctl("topics", "apply", "--definition", second)
    assert "retention.ms" not in settled.stdout and "never decreased" in settled.stdout
    listed = womctl("topics", "list", "--definition", second)
    assert listed.exit_code == 0, listed.output
    assert row(listed.stdout, a, 3 if grown else 2, 1, "cleanup.policy=delete, retention.ms=7200000")
    assert row(
        listed.stdout, b, 2, 1, "cleanup.policy=delete, retention.ms=3600000", "differs; partitions: file 1"
    )
    assert row(listed.stdout, "commerce.order.completed.v1", 12, 1) and "not in file" in listed.stdout


async def retention_of(bootstrap: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return (await describe_topic_configs(admin, [topic]))[topic]["retention.ms"]
    finally:
        await admin.close()


async def produce_and_commit(bootstrap: str, topic: str, group: str) -> None:
    """5 records on partition 0 and 3 on 1, one batch each (so that even the embedded broker
    reports exact end offsets); the group has committed 2 on partition 0, nothing on 1."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    for partition, count in ((0, 5), (1, 3)):
        for n in range(count):
            await producer.send_and_wait(topic, f"record {n}".encode(), partition=partition)
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    consumer.assign([TopicPartition(topic, 0)])
    await consumer.commit({TopicPartition(topic, 0): 2})
    await consumer.stop()


def test_lag_shows_committed_and_end_offsets_per_group_and_partition(
    womctl: Callable[..., Result], kafka_bootstrap: str
) -> None:
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    asyncio.run(produce_and_commit(kafka_bootstrap, topic, group))

    lags = asyncio.run(consumer_lag({"bootstrap_servers": kafka_bootstrap}, [group, f"{group}-new"]))
    assert [(r.topic, r.partition, r.committed, r.end, r.lag) for r in lags[group]] == [
        (topic, 0, 2, 5, 3),
        (topic, 1, None, 3, 3),  # nothing committed: the group would start from the first record
    ]
    assert lags[f"{group}-new"] == []

    shown = womctl("lag", "--group", group, "--group", f"{group}-new")
    assert shown.exit_code == 0, shown.output
    assert f"{group}: lag 6" in shown.stdout
    assert row(shown.stdout, topic, 0, 2, 5, 3) and row(shown.stdout, topic, 1, "-", 3, 3)
    assert f"{group}-new: no committed offsets" in shown.stdout


def test_dlq_show_prints_one_dead_letter_in_full(womctl: Callable[..., Result], kafka_bootstrap: str) -> None:
    key = f"show-{uuid.uuid4().hex[:8]}".encode()
    asyncio.run(publish_letter(kafka_bootstrap, key))
    options = {"bootstrap_servers": kafka_bootstrap}
    [letter] = [x for x in asyncio.run(deadletters.read_dead_letters("outreach", options)) if x.key == key]

    shown = womctl("dlq", "show", "outreach", f"{letter.partition}:{letter.offset}")
    assert shown.exit_code == 0, shown.output
    where = f"{letter.partition}:{letter.offset}"
    assert shown.stdout.startswith(f"outreach.dlq {where}\nreason:           invalid_event\n")
    for line in (
        "error:            total: Field required [type=missing]",
        "source.topic:     commerce.order.completed.v1",
        "source.offset:    17",
        f"key:              {key.decode()}",
        "  ce_id: evt-show",
        '  "order_id": "o-1"',
    ):
        assert line in shown.stdout, line
    nowhere = f"{letter.partition}:{letter.offset + 10_000}"
    missing = womctl("dlq", "show", "outreach", nowhere)
    assert missing.exit_code == 1 and missing.stderr.startswith("outreach.dlq has no record at")
    not_there = womctl("dlq", "replay", "outreach", "--offset", nowhere)
    assert not_there.exit_code == 1 and "outreach.dlq has no record at" in not_there.stderr


async def publish_letter(bootstrap: str, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    await producer.send_and_wait("outreach.dlq", b'{"order_id": "o-1"}', key=key, headers=[
        ("ce_id", b"evt-show"), ("ce_type", b"commerce.order.completed.v1"), ("dlq.reason", b"invalid_event"),
        ("dlq.error", b"total: Field required [type=missing]"), ("dlq.service", b"outreach"),
        ("dlq.source.topic", b"commerce.order.completed.v1"), ("dlq.source.partition", b"3"),
        ("dlq.source.offset", b"17"),
    ])  # fmt: skip
    await producer.stop()
