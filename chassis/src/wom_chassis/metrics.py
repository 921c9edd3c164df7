"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_SECONDS",
    "DEAD_LETTERS",
    "EVENTS_CONSUMED",
    "JOB_RUNS",
    "JOB_SECONDS",
    "OUTBOX_OLDEST_SECONDS",
    "OUTBOX_PENDING",
    "OUTBOX_PUBLISHED",
    "RETRIES",
]

EVENTS_CONSUMED = Counter(
    "wom_events_consumed_total",
    "Records consumed, by outcome (processed, duplicate, dead_lettered)",
    ["service", "event_type", "outcome"],
)
DEAD_LETTERS = Counter(
    "wom_dead_letters_total", "Records sent to the dead-letter topic", ["service", "reason"]
)
RETRIES = Counter("wom_handler_retries_total", "Retried transactions", ["service"])
BATCH_SECONDS = Histogram("wom_consume_batch_seconds", "Time to process one fetched batch", ["service"])
OUTBOX_PUBLISHED = Counter("wom_outbox_published_total", "Outbox rows published", ["service", "event_type"])
OUTBOX_PENDING = Gauge("wom_outbox_pending", "Unsent outbox rows", ["service"])
OUTBOX_OLDEST_SECONDS = Gauge(
    "wom_outbox_oldest_pending_seconds", "Age of the oldest unsent outbox row", ["service"]
)
JOB_RUNS = Counter("wom_job_runs_total", "Runs of scheduled jobs, by outcome", ["service", "job", "outcome"])
JOB_SECONDS = Histogram("wom_job_seconds", "Time one run of a scheduled job takes", ["service", "job"])
