"""womctl: the topics definition, the embedded broker, the SMTP catcher, dead letters, `up`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import aiosmtplib
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from wom_chassis import EventHandlers, EventProcessor
from wom_chassis.publishing import RecordProducer
from wom_contracts import OrderCompletedV1, all_topics
from wom_testkit import bound, eventually, free_port, fresh_database
from womctl import deadletters
from womctl.mail import MailCatcher
from womctl.topics import load_definition

from tests.support import HEALTHY_TIMEOUT, wait_until

SERVICES = ["referrals", "rewards", "outreach", "feedback"]


def test_topics_definition_lists_every_event_topic_and_each_dead_letter_topic() -> None:
    partitions = load_definition().partitions()
    assert sorted(partitions) == sorted([*all_topics(), *(f"{s}.dlq" for s in SERVICES)])
    assert all(partitions[topic] == 12 for topic in all_topics())


async def test_embedded_broker_has_every_topic_with_its_partitions(kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the cluster's metadata
        for topic, count in load_definition().partitions().items():
            assert consumer.partitions_for_topic(topic) == set(range(count)), topic
    finally:
        await consumer.stop()


async def test_mail_catcher_keeps_each_mail_as_an_eml_file(tmp_path: Path) -> None:
    port = free_port()
    with MailCatcher(port=port, directory=tmp_path / "mail") as catcher:
        await aiosmtplib.send(
            "Subject: Hej\r\nTo: sven@example.com\r\n\r\nTack!", sender="wom@example.com",
            recipients=["sven@example.com"], hostname="127.0.0.1", port=port,
        )  # fmt: skip
        [mail] = catcher.messages()
    assert mail["Subject"] == "Hej" and "Tack!" in mail.get_content()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


async def test_dead_letters_are_replayed_to_their_source_for_their_service(kafka_bootstrap: str) -> None:
    key = f"dlq-{uuid.uuid4().hex[:8]}".encode()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    await producer.send_and_wait("feedback.dlq", b"{broken", key=key, headers=[
        ("ce_type", b"feedback.response.submitted.v1"), ("dlq.reason", b"invalid_envelope"),
        ("dlq.source.topic", b"feedback.response.submitted.v1"), ("dlq.error", b"not JSON"),
        ("dlq.source.partition", b"3"), ("dlq.source.offset", b"17"),
    ])  # fmt: skip
    await producer.stop()
    options = {"bootstrap_servers": kafka_bootstrap}
    letters = [x for x in await deadletters.read_dead_letters("feedback", options) if x.key == key]
    assert [(x.info["reason"], x.info["source.offset"]) for x in letters] == [("invalid_envelope", "17")]
    assert await deadletters.replay("feedback", letters, options) == 1

    consumer = AIOKafkaConsumer("feedback.response.submitted.v1", bootstrap_servers=kafka_bootstrap,
                                group_id=uuid.uuid4().hex, auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    try:

        async def replayed() -> list:  # type: ignore[type-arg]
            batch = await consumer.getmany(timeout_ms=500)
            return [r for rs in batch.values() for r in rs if r.key == key]

        [record] = await eventually(replayed, timeout=bound(15))
        assert record.value == b"{broken"
        # the original headers, and the service it is replayed for: the other services skip it
        assert list(record.headers) == [
            ("ce_type", b"feedback.response.submitted.v1"), ("dlq.replay.for", b"feedback")
        ]  # fmt: skip
    finally:
        await consumer.stop()


async def test_a_dead_letter_keeps_its_record_byte_for_byte_through_replay(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A record with a binary header value, a repeated header name and a null header is dead-
    lettered by the consume path and replayed by womctl: key, value and every header arrive as
    they were published, in order, with only the `dlq.*` headers added and then taken off."""
    topic = OrderCompletedV1.event_type
    key = f"bytes-{uuid.uuid4().hex[:8]}".encode()
    value = b"\xff\x00 not a CloudEvent \xc3("
    headers = [("ce_type", topic.encode()), ("trace", b"\x00\x01\xfe\xff"), ("hop", b"a"), ("hop", b"b"),
               ("empty", b""), ("nothing", None)]  # fmt: skip
    publisher = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await publisher.start()
    try:
        await publisher.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await publisher.stop()
    [consumed] = await _records_with_key(kafka_bootstrap, topic, key)
    assert (consumed.key, consumed.value, list(consumed.headers)) == (
        key,
        value,
        headers,
    )  # the broker keeps them

    db = await fresh_database("sqlite", tmp_path, [])
    producer = RecordProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    processor = EventProcessor(db=db, records=producer, handlers=EventHandlers(), service="feedback",
                               source="wom/test", dead_letter_topic="feedback.dlq")  # fmt: skip
    try:
        await processor.process([consumed])
    finally:
        await producer.stop()
        await db.dispose()

    options = {"bootstrap_servers": kafka_bootstrap}
    letters = await deadletters.read_dead_letters("feedback", options, idle_seconds=1.0)
    [letter] = [x for x in letters if x.key == key]
    assert letter.info["reason"] == "invalid_envelope"
    assert (letter.value, letter.original_headers) == (value, headers)
    assert await deadletters.replay("feedback", [letter], options) == 1
    original, replayed = await _records_with_key(kafka_bootstrap, topic, key, at_least=2)
    assert original.offset == consumed.offset
    assert replayed.value == value
    assert list(replayed.headers) == [*headers, ("dlq.replay.for", b"feedback")]


async def _records_with_key(bootstrap: str, topic: str, key: bytes, at_least: int = 1) -> list:  # type: ignore[type-arg]
    """The records of `topic` with `key`, in offset order, once there are `at_least` of them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list = []  # type: ignore[type-arg]
    try:
        await consumer.topics()  # every partition assigned, read from the start: no group to join
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
        await consumer.seek_to_beginning()

        async def enough() -> list | None:  # type: ignore[type-arg]
            batch = await consumer.getmany(timeout_ms=500)
            found.extend(r for rs in batch.values() for r in rs if r.key == key)
            return found if len(found) >= at_least else None

        await eventually(enough, timeout=bound(15))
    finally:
        await consumer.stop()
    return sorted(found, key=lambda record: record.offset)


@pytest.mark.e2e
def test_up_runs_everything_and_a_sample_ends_as_a_mail(tmp_path: Path) -> None:
    broker_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "womctl", "dev", "up", "--broker-port", str(broker_port),
         "--smtp-port", str(smtp_port), "--mail-dir", str(tmp_path / "mail")],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        publish = [sys.executable, "-m", "womctl", "dev", "publish-sample"]
        publish_env = {**env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker_port}"}

        def published() -> bool:
            return subprocess.run(publish, env=publish_env, capture_output=True).returncode == 0

        # the broker is up before the services start; they take up to HEALTHY_TIMEOUT to come up,
        # consume both events and send the mail
        wait_until(published, timeout=HEALTHY_TIMEOUT, every=1)
        wait_until(lambda: list((tmp_path / "mail").glob("*.eml")), timeout=HEALTHY_TIMEOUT)
        assert {p.name for p in tmp_path.glob("var/*.db")} == {f"{s}.db" for s in SERVICES}
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=HEALTHY_TIMEOUT)
        finally:
            up.kill()
            log.close()
    output = (tmp_path / "up.log").read_text()
    for service in [*SERVICES, "smtp"]:
        assert f"{service} stopped" in output, output[-3000:]
    with pytest.raises(OSError):  # the embedded broker is gone too
        socket.create_connection(("127.0.0.1", broker_port), timeout=bound(2)).close()


@pytest.mark.e2e
def test_demo_simulates_a_storefront_and_summarises_what_the_services_did(tmp_path: Path) -> None:
    """Uses the fixed HTTP ports 8001–8004, like `make up`: run it when they are free."""
    broker_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    demo = subprocess.run(
        [sys.executable, "-m", "womctl", "dev", "demo", "--duration", "30", "--rate", "5", "--broker-port",
         str(broker_port), "--smtp-port", str(smtp_port), "--mail-dir", str(tmp_path / "mail")],
        cwd=tmp_path, env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=30 + 2 * HEALTHY_TIMEOUT,  # its 30 s, after the start-up it waits for, and the stop
    )  # fmt: skip
    screen = demo.stdout
    assert demo.returncode == 0, screen[-3000:] + demo.stderr[-3000:]
    granted = re.search(r"(\d+) points granted", screen)
    sent = re.search(r"(\d+) mails sent", screen)
    assert granted and int(granted.group(1)) > 0 and sent and int(sent.group(1)) > 0, screen[-3000:]
    assert "http://127.0.0.1:8004/console" in screen and list((tmp_path / "mail").glob("*.eml"))
    agent = re.findall(r"support agent in the console: (.*)", screen)[-1]
    assert "failed" not in agent, agent  # it signed in and worked cases through the real console
    log = (tmp_path / "var" / "demo.log").read_text()
    for service in [*SERVICES, "smtp"]:
        assert f"{service} stopped" in log, log[-3000:]
    with pytest.raises(OSError):  # the embedded broker is gone too
        socket.create_connection(("127.0.0.1", broker_port), timeout=bound(2)).close()
