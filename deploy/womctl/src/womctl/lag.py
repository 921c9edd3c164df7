"""Consumer lag: per group and partition, the committed offset, the end offset and the difference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from wom_chassis import ServiceSettings

from womctl.cluster import DEFAULT_TIMEOUT, admin_client, consumer

__all__ = ["PartitionLag", "consumer_lag", "default_groups"]


def default_groups(services: list[str]) -> list[str]:
    """The consumer groups the services use unless CONSUMER_GROUP says otherwise (wom-<service>)."""
    return [str(ServiceSettings(service_name=name, consumer_group=None).consumer_group) for name in services]


@dataclass(frozen=True)
class PartitionLag:
    """Where one group stands on one partition."""

    group: str
    topic: str
    partition: int
    committed: int | None  # None: nothing committed yet, the group starts from the earliest record
    end: int
    start: int

    @property
    def lag(self) -> int:
        """Records the group has yet to consume (never below 0)."""
        return max(0, self.end - (self.start if self.committed is None else self.committed))

    @property
    def past_end(self) -> bool:
        """The committed offset is beyond the end the broker reports: its end offsets are approximate."""
        return self.committed is not None and self.committed > self.end


async def consumer_lag(
    options: dict[str, Any], groups: list[str], timeout: float = DEFAULT_TIMEOUT
) -> dict[str, list[PartitionLag]]:
    """For each group, every partition of each topic it has committed offsets on (empty: none yet)."""
    committed: dict[str, dict[TopicPartition, int]] = {group: {} for group in groups}
    async with admin_client(options, timeout) as admin:
        described = [t for t in await admin.describe_topics() if not t["is_internal"]]
        partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
        for group in groups if partitions else []:
            # partitions named explicitly: some brokers cannot list "every offset of the group"
            offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    topics = {tp.topic for offsets in committed.values() for tp in offsets}
    wanted = [tp for tp in partitions if tp.topic in topics]
    if not wanted:
        return {group: [] for group in groups}
    async with consumer(options, timeout) as reader:
        ends = await reader.end_offsets(wanted)
        starts = await reader.beginning_offsets(wanted)
    result: dict[str, list[PartitionLag]] = {}
    for group in groups:
        mine = {tp.topic for tp in committed[group]}
        result[group] = [
            PartitionLag(group, tp.topic, tp.partition, committed[group].get(tp), ends[tp], starts[tp])
            for tp in sorted(wanted)
            if tp.topic in mine
        ]
    return result
