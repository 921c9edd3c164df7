"""Triage of a negative answer: priority, SLA deadline and queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from feedback.rules import PriorityRules, Queue, Rules

__all__ = ["Triage", "priority_for", "queue_for", "sla_deadline", "triage"]


@dataclass(frozen=True)
class Triage:
    """Where a negative answer goes and how fast it must be handled."""

    priority: str
    opened_at: datetime
    sla_due_at: datetime
    queue: str
    key_client: bool
    signals: tuple[str, ...]


def priority_for(
    kind: str, score: int, signals: Sequence[str], key_client: bool, rules: PriorityRules
) -> str:
    """Key clients first; then severe scores or comments with negative signals; then the rest."""
    if key_client:
        return rules.key_client
    if score <= rules.severe_score.get(kind, -1) or signals:
        return rules.severe
    return rules.default


def sla_deadline(opened_at: datetime, priority: str, queue: str, rules: Rules) -> datetime:
    """When the case must be resolved by: `sla_hours[priority]` of the queue's working time."""
    return rules.clock(queue).add(opened_at, timedelta(hours=rules.sla_hours[priority]))


def queue_for(
    queues: Sequence[Queue], *, key_client: bool, priority: str, signals: Sequence[str], kind: str
) -> str:
    """The first queue whose conditions all hold (the last queue takes every case)."""
    for queue in queues:
        when = queue.when
        if when.key_client is not None and when.key_client != key_client:
            continue
        if when.priorities is not None and priority not in when.priorities:
            continue
        if when.signals_any is not None and not set(when.signals_any) & set(signals):
            continue
        if when.kinds is not None and kind not in when.kinds:
            continue
        return queue.name
    return queues[-1].name


def triage(
    *, kind: str, score: int, signals: Sequence[str], key_client: bool, opened_at: datetime, rules: Rules
) -> Triage:
    """Priority, deadline and queue of a negative answer."""
    priority = priority_for(kind, score, signals, key_client, rules.priority)
    queue = queue_for(rules.queues, key_client=key_client, priority=priority, signals=signals, kind=kind)
    return Triage(
        priority=priority,
        opened_at=opened_at,
        sla_due_at=sla_deadline(opened_at, priority, queue, rules),
        queue=queue,
        key_client=key_client,
        signals=tuple(signals),
    )
