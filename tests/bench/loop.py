"""The whole loop: the four services as processes on one embedded broker, fed the demo
storefront's mixed traffic. Drain rate of a backlog, event → effect latency at a steady offered
load, and the peak RSS of each service."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from womctl.progress import progress

from tests.bench.harness import commit_times, inbox_count, outbox_counts, peak_rss_mib, produce
from tests.bench.inputs import mixed_traffic
from tests.platform import Platform, running_platform
from tests.support import SERVICE_NAMES

__all__ = ["PATHS", "Latency", "LatencyRun", "LoopResult", "whole_loop"]

# inbound topic → (effect topic, the field that ties an effect to its input)
EFFECTS: dict[str, tuple[str, str]] = {
    "commerce.order.completed.v1": ("rewards.reward.granted.v1", "order_id"),
    "commerce.customer.registered.v1": ("referrals.code.issued.v1", "customer_id"),
    "feedback.response.submitted.v1": ("feedback.case.opened.v1", "response_id"),
}
PROMOTERS = "feedback.promoter.identified.v1"  # the other effect of a survey answer
# inbound topic → the path's key in results.json, its label
PATHS: dict[str, tuple[str, str]] = {
    "commerce.customer.registered.v1": ("signup_code", "sign-up → code issued (referrals)"),
    "commerce.order.completed.v1": ("order_reward", "order → reward granted (rewards)"),
    "feedback.response.submitted.v1": ("answer_feedback", "answer → promoter / case (feedback)"),
}


@dataclass
class Latency:
    """Event → effect latency of one kind of input, in seconds."""

    key: str
    path: str
    samples: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if len(self.samples) < 2:
            return float("nan")
        return statistics.quantiles(self.samples, n=100, method="inclusive")[int(p) - 1]


@dataclass
class LatencyRun:
    """One latency run: `rate` events/s asked for `seconds`, what was offered, each path's latency."""

    rate: float
    seconds: float
    offered: int = 0
    offered_rate: float = float("nan")
    latencies: list[Latency] = field(default_factory=list)  # the paths, then all of them together


@dataclass
class LoopResult:
    events: int = 0
    drain_seconds: float = float("nan")
    consumed: dict[str, int] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=dict)  # seconds from a service's first commit to its last
    latency_runs: list[LatencyRun] = field(default_factory=list)
    peak_rss: dict[str, float] = field(default_factory=dict)

    @property
    def drain_rate(self) -> float:
        return self.events / self.drain_seconds


def _quiet(platform: Platform, settle: float, stuck: float = 600) -> None:
    """Wait until no service's inbox has changed for `settle` seconds and every outbox row is
    published. Outboxes may go on growing: outreach sends what its jobs schedule (welcomes five
    minutes after a sign-up), which is not the backlog being drained."""
    last: tuple[int, ...] = ()
    changed = time.monotonic()
    with progress("the loop at work: events consumed by the four services") as advance:
        while True:
            time.sleep(0.25)  # the poll's interval: the stuck check below bounds it
            for service in platform.services.values():
                if service.process is not None and service.process.poll() is not None:
                    raise RuntimeError(f"{service.name} exited:\n{service.log.read_text()[-4000:]}")
            state = tuple(inbox_count(platform.database(n)) for n in SERVICE_NAMES)
            advance(completed=sum(state))
            if state != last:
                last, changed = state, time.monotonic()
            outboxes = [outbox_counts(platform.database(n)) for n in SERVICE_NAMES]
            all_sent = all(written == sent for written, sent in outboxes)
            if all_sent and time.monotonic() - changed >= settle:
                return
            if time.monotonic() - changed > stuck:
                raise RuntimeError(f"the loop is stuck at {state}")


def _drain(platform: Platform, count: int, result: LoopResult) -> None:
    records = mixed_traffic(uuid.uuid4().hex[:4], count, seed=7)
    before = {name: inbox_count(platform.database(name)) for name in SERVICE_NAMES}
    asyncio.run(produce(platform.bootstrap, records))
    _quiet(platform, settle=5.0)
    commits = {name: commit_times(platform.database(name)) for name in SERVICE_NAMES}
    times = [when for name in SERVICE_NAMES for when in commits[name]]
    result.events = len(records)
    result.drain_seconds = (max(times) - min(times)).total_seconds()
    result.busy = {n: (commits[n][-1] - commits[n][0]).total_seconds() for n in SERVICE_NAMES if commits[n]}
    result.consumed = {n: inbox_count(platform.database(n)) - before[n] for n in SERVICE_NAMES}


def _tie(record_value: bytes, name: str) -> str | None:
    try:
        value = json.loads(record_value).get(name)
    except (ValueError, AttributeError):
        return None
    return str(value) if value is not None else None


async def _effects(
    bootstrap: str, topics: list[str], wanted: dict[tuple[str, str], float]
) -> dict[tuple[str, str], float]:
    """The first effect (record timestamp, s) of every wanted (topic, tie) on `topics`."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"bench-effects-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[tuple[str, str], float] = {}
    try:
        idle = 0
        while idle < 6:  # three seconds without a new record: the topics are read
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    topic = PROMOTERS if record.topic == PROMOTERS else record.topic
                    field_name = "response_id" if topic == PROMOTERS else _field_of(record.topic)
                    tie = _tie(record.value, field_name)
                    key = (_inbound_of(record.topic), tie or "")
                    if key in wanted and key not in found:
                        found[key] = record.timestamp / 1000
    finally:
        await consumer.stop()
    return found


def _field_of(effect_topic: str) -> str:
    return next(tie for topic, tie in EFFECTS.values() if topic == effect_topic)


def _inbound_of(effect_topic: str) -> str:
    if effect_topic == PROMOTERS:
        return "feedback.response.submitted.v1"
    return next(inbound for inbound, (topic, _) in EFFECTS.items() if topic == effect_topic)


def _latency(platform: Platform, rate: float, seconds: float) -> LatencyRun:
    run = LatencyRun(rate, seconds)
    records = mixed_traffic(uuid.uuid4().hex[:4], int(rate * seconds), seed=11)
    started = time.monotonic()
    sent = asyncio.run(produce(platform.bootstrap, records, rate=rate))
    run.offered, run.offered_rate = len(records), len(records) / (time.monotonic() - started)
    _quiet(platform, settle=3.0)
    wanted: dict[tuple[str, str], float] = {}
    for record, when in zip(records, sent, strict=True):
        if record.topic in EFFECTS:
            tie = _tie(record.value, EFFECTS[record.topic][1])
            if tie is not None:
                wanted[record.topic, tie] = when
    topics = [topic for topic, _ in EFFECTS.values()] + [PROMOTERS]
    found = asyncio.run(_effects(platform.bootstrap, topics, wanted))
    paths = {topic: Latency(key, label) for topic, (key, label) in PATHS.items()}
    for (topic, tie), effect_at in found.items():
        paths[topic].samples.append(max(0.0, effect_at - wanted[topic, tie]))
    every = Latency("all", "all of the above", [s for p in paths.values() for s in p.samples])
    run.latencies = [*paths.values(), every]
    return run


def whole_loop(
    directory: Path, *, drain: int, latency: Sequence[tuple[float, float]], parts: set[str]
) -> LoopResult:
    """Run the parts asked for (`drain`, then `latency`: a run per (events/s, seconds), each after
    the loop is quiet again) on one platform; peak RSS at the end."""
    result = LoopResult()

    async def run() -> None:
        async with running_platform(directory, env={"DELIVERY_EVERY_SECONDS": "0.5"}) as platform:
            await asyncio.to_thread(_run_parts, platform)

    def _run_parts(platform: Platform) -> None:
        if "drain" in parts:
            _drain(platform, drain, result)
        if "latency" in parts:
            result.latency_runs = [_latency(platform, rate, seconds) for rate, seconds in latency]
        for name, service in platform.services.items():
            assert service.process is not None
            result.peak_rss[name] = peak_rss_mib(service.process.pid)

    asyncio.run(run())
    return result
