"""Metrics: consumer lag from the consumer's own positions, handler latency and failures, and the
Grafana dashboard charts only metrics that exist."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import TopicPartition
from prometheus_client import REGISTRY
from wom_chassis import Database, EventHandlers, EventProcessor, UnitOfWork
from wom_chassis.lag import ConsumerLag
from wom_chassis.metrics import ALL_METRICS
from wom_contracts import CustomerErasedV1
from wom_testkit import record_of

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "wom.json"


class FakeConsumer:
    """What ConsumerLag reads of an aiokafka consumer."""

    def __init__(self) -> None:
        self.positions: dict[TopicPartition, int] = {}
        self.ends: dict[TopicPartition, int | None] = {}
        self.stable = -1  # read_uncommitted

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends[tp]

    def last_stable_offset(self, tp: TopicPartition) -> int:
        return self.stable

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


def erased(customer_id: str) -> CustomerErasedV1:
    return CustomerErasedV1(customer_id=customer_id, requested_at=datetime(2026, 11, 1, tzinfo=UTC))


def lag(topic: str, partition: int) -> float | None:
    labels = {"service": "lagging", "topic": topic, "partition": str(partition)}
    return REGISTRY.get_sample_value("wom_consumer_lag", labels)


async def test_consumer_lag_is_the_end_of_each_partition_minus_the_position() -> None:
    consumer, gauge = FakeConsumer(), ConsumerLag("lagging")
    a0, a1, b0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
    consumer.positions = {a0: 10, a1: 5, b0: 0}
    consumer.ends = {a0: 25, a1: 5, b0: None}  # b-0 not fetched from yet
    await gauge.observe(consumer)
    assert (lag("a", 0), lag("a", 1), lag("b", 0)) == (15, 0, None)

    del consumer.positions[a0]  # a rebalance took a-0 away: its series goes too
    consumer.stable, consumer.positions[a1] = 7, 6  # read_committed: up to the last stable offset
    await gauge.observe(consumer)
    assert (lag("a", 0), lag("a", 1)) == (None, 1)


async def test_handler_time_and_failures_are_counted_per_event_type(db: Database, sink) -> None:  # type: ignore[no-untyped-def]
    handlers = EventHandlers()

    @handlers.on(CustomerErasedV1)
    async def erase(event: CustomerErasedV1, uow: UnitOfWork) -> None:
        if event.customer_id == "c-bad":
            raise ValueError("cannot")

    service = f"timed-{db.url.get_backend_name()}"
    processor = EventProcessor(
        db=db, records=sink, handlers=handlers, service=service, source="wom/test",
        dead_letter_topic="test.dlq", max_attempts=2, retry_initial=0.01, retry_max=0.02, mode="record",
    )  # fmt: skip
    customers = ["c-1", "c-2", "c-bad"]
    await processor.process([record_of(erased(customer), offset=n) for n, customer in enumerate(customers)])
    labels = {"service": service, "event_type": CustomerErasedV1.event_type}
    assert REGISTRY.get_sample_value("wom_handler_duration_seconds_count", labels) == 2
    assert REGISTRY.get_sample_value("wom_handler_failures_total", labels) == 2  # two attempts
    outcome = {**labels, "outcome": "dead_lettered"}
    assert REGISTRY.get_sample_value("wom_events_consumed_total", outcome) == 1


def _sample_names() -> set[str]:
    """Every series name the metrics module exposes (counters' _total, histograms' _bucket...)."""
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for metric in ALL_METRICS:
        for family in metric.describe():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def _queries(node: object, keys: tuple[str, ...] = ("expr",)) -> list[str]:
    """The PromQL strings under `keys` anywhere in a dashboard."""
    if isinstance(node, dict):
        found = [node[key] for key in keys if isinstance(node.get(key), str)]
        return found + [q for value in node.values() for q in _queries(value, keys)]
    if isinstance(node, list):
        return [q for value in node for q in _queries(value, keys)]
    return []


def test_the_dashboard_charts_only_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = _queries(dashboard)
    everything = _queries(dashboard, ("expr", "query", "definition"))  # panels and variables
    used = {name for query in everything for name in re.findall(r"\bwom_[a-z0-9_]+", query)}
    assert queries and used
    assert used <= _sample_names(), f"unknown metrics: {sorted(used - _sample_names())}"
    titles = {panel["title"] for panel in dashboard["panels"]}
    for needed in ("Throughput", "Handler failures", "Dead letters", "Handler latency p95",
                   "Outbox backlog", "Oldest unsent outbox row", "Consumer lag"):  # fmt: skip
        assert needed in titles
    assert all('service=~"$service"' in query for query in queries)  # every panel follows the picker


def test_every_metric_has_the_service_label_and_conventional_names() -> None:
    for metric in ALL_METRICS:
        (family,) = metric.describe()
        assert re.fullmatch(r"wom_[a-z0-9_]+", family.name)
        assert "service" in metric._labelnames
        if family.type == "counter":
            assert not family.name.endswith("_total")  # the client adds it to the series
        if "seconds" in family.name:
            assert family.name.endswith("_seconds")
