"""Consumer lag from the consumer's own view: the end of each assigned partition as the last fetch
reported it, minus the consumer's position. No admin calls, nothing extra on the wire."""

from __future__ import annotations

from typing import Any

from aiokafka.errors import KafkaError

from wom_chassis.metrics import CONSUMER_LAG

__all__ = ["ConsumerLag"]


class ConsumerLag:
    """Keeps `wom_consumer_lag` of one service current, one series per assigned partition; the
    series of a partition that a rebalance took away is removed."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._partitions: set[tuple[str, str]] = set()

    async def observe(self, consumer: Any) -> None:
        """Read lag from `consumer` (an aiokafka consumer, after a batch was handed over)."""
        seen: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            try:
                end = _end_offset(consumer, tp)
                if end is None:
                    continue  # not fetched from yet: the end is unknown
                position = await consumer.position(tp)
            except (AssertionError, KafkaError):
                continue  # revoked while we looked
            labels = (tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(self.service, *labels).set(max(0, end - position))
            seen.add(labels)
        for labels in self._partitions - seen:
            CONSUMER_LAG.remove(self.service, *labels)
        self._partitions = seen


def _end_offset(consumer: Any, tp: Any) -> int | None:
    # read_committed consumers stop at the last stable offset; read_uncommitted report it as -1
    stable = consumer.last_stable_offset(tp)
    if stable is not None and stable >= 0:
        return int(stable)
    highwater = consumer.highwater(tp)
    return None if highwater is None else int(highwater)
