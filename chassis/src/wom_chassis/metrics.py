"""Prometheus metrics every service exposes on /metrics.

Named by Prometheus' conventions: `wom_` prefix, snake_case, counters end in `_total`, times are
in seconds, every series carries the `service` label. `deploy/grafana/wom.json` charts them (a test
keeps the dashboard to the names defined here).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ALL_METRICS",
    "BATCH_SECONDS",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DELIVERIES",
    "EVENTS_CONSUMED",
    "HANDLER_FAILURES",
    "HANDLER_SECONDS",
    "JOB_RUNS",
    "JOB_SECONDS",
    "OUTBOX_OLDEST_SECONDS",
    "OUTBOX_PENDING",
    "OUTBOX_PUBLISHED",
    "RETRIES",
    "ConsumeMetrics",
]

EVENTS_CONSUMED = Counter(
    "wom_events_consumed_total",
    "Records consumed, each counted once by its outcome (processed, duplicate, dead_lettered)",
    ["service", "event_type", "outcome"],
)
HANDLER_FAILURES = Counter(
    "wom_handler_failures_total",
    "Handler attempts that raised (each retry counts; a rejected event is a dead letter instead)",
    ["service", "event_type"],
)
DEAD_LETTERS = Counter(
    "wom_dead_letters_total", "Records sent to the dead-letter topic", ["service", "reason"]
)
DELIVERIES = Counter(
    "wom_deliveries_total",
    "Outbound delivery attempts by outcome (sent, retried, failed: given up after the last)",
    ["service", "delivery", "outcome"],
)
RETRIES = Counter("wom_handler_retries_total", "Retried transactions", ["service"])
HANDLER_SECONDS = Histogram(
    "wom_handler_duration_seconds",
    "Time an event spends in its handler: the mean of one batch's events of the type, observed "
    "once per batch",
    ["service", "event_type"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_SECONDS = Histogram("wom_consume_batch_seconds", "Time to process one fetched batch", ["service"])
CONSUMER_LAG = Gauge(
    "wom_consumer_lag",
    "Records of a partition not yet handed to the consumer (end offset of the last fetch minus position)",
    ["service", "topic", "partition"],
)
OUTBOX_PUBLISHED = Counter("wom_outbox_published_total", "Outbox rows published", ["service", "event_type"])
OUTBOX_PENDING = Gauge("wom_outbox_pending", "Unsent outbox rows", ["service"])
OUTBOX_OLDEST_SECONDS = Gauge(
    "wom_outbox_oldest_pending_seconds", "Age of the oldest unsent outbox row", ["service"]
)
JOB_RUNS = Counter("wom_job_runs_total", "Runs of scheduled jobs, by outcome", ["service", "job", "outcome"])
JOB_SECONDS = Histogram("wom_job_seconds", "Time one run of a scheduled job takes", ["service", "job"])

ALL_METRICS: tuple[Counter | Gauge | Histogram, ...] = (
    EVENTS_CONSUMED,
    HANDLER_FAILURES,
    DEAD_LETTERS,
    DELIVERIES,
    RETRIES,
    HANDLER_SECONDS,
    BATCH_SECONDS,
    CONSUMER_LAG,
    OUTBOX_PUBLISHED,
    OUTBOX_PENDING,
    OUTBOX_OLDEST_SECONDS,
    JOB_RUNS,
    JOB_SECONDS,
)
"""Every metric above: what /metrics exposes and what dashboards may chart."""


class ConsumeMetrics:
    """The consume path's series of one service, each label set bound once: a batch counts
    its events with one call per event type and outcome, not one lookup per event."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.service, *labels)
        return child

    def consumed(self, event_type: str, outcome: str) -> Counter:
        """`wom_events_consumed_total` of one event type and outcome."""
        return self._child(EVENTS_CONSUMED, event_type, outcome)  # type: ignore[no-any-return]

    def failures(self, event_type: str) -> Counter:
        """`wom_handler_failures_total` of one event type."""
        return self._child(HANDLER_FAILURES, event_type)  # type: ignore[no-any-return]

    def handler_seconds(self, event_type: str) -> Histogram:
        """`wom_handler_duration_seconds` of one event type."""
        return self._child(HANDLER_SECONDS, event_type)  # type: ignore[no-any-return]
