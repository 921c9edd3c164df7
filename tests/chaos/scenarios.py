"""The four scenarios of `make chaos`. Each starts the platform it needs, injects its faults,
waits until everything is drained and returns what it measured against what it published."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from womctl.storefront import RawRecord

from tests.chaos.harness import Harness, harness
from tests.chaos.poison import bad_records
from tests.chaos.state import Violations, check_invariants, snapshot
from tests.chaos.traffic import CONSUMERS, HASH_KEY, storefront_records
from tests.platform import Platform, running_platform
from tests.support import SERVICE_NAMES

__all__ = ["LOST_KINDS", "Outcome", "Scale", "crashes", "cuts", "duplicates", "platform_for", "poison"]

MALFORMED = {"malformed_json", "score_out_of_range"}  # storefront kinds whose record is bad on purpose
LOST_KINDS = {"order_without_its_earn", "negative_answer_without_case"}
DUPLICATE_KINDS = {
    "earn_twice_for_one_order", "referral_rewarded_twice", "referral_with_two_outcomes",
    "two_cases_for_one_answer",
    "case_opened_twice", "message_queued_twice", "mail_sent_twice",
}  # fmt: skip
ENV = {
    "REFERRALS_HASH_SECRET": HASH_KEY,
    "OUTREACH_UNSUBSCRIBE_SECRET": "chaos-secret",
    "FEEDBACK_SESSION_SECRET": "chaos-secret",
    "FEEDBACK_SEARCH_SECRET": "chaos-secret",
}


@dataclass
class Scale:
    """How big each scenario is; the defaults are the issue's."""

    events: int = 50_000  # mixed storefront events of the crash run
    kills: int = 20
    cut_events: int = 5_000
    cuts: int = 3
    cut_seconds: float = 10.0
    poison: int = 10_000
    poison_valid: int = 5_000
    duplicate_events: int = 3_000
    rate: float = 400.0  # records a second the storefront publishes
    mail_grace: float = 60.0  # seconds given to outreach's mail queue after the events are drained
    drain_timeout: float = 1200.0


@dataclass
class Outcome:
    """One row of the table."""

    scenario: str
    faults: int
    fault_detail: str
    events: int
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    max_stall: float | None = None
    stall_target: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        within = self.stall_target is None or (
            self.max_stall is not None and self.max_stall <= self.stall_target
        )
        return not self.lost and not self.duplicated and not self.problems and within


def platform_for(directory: Path, **kwargs: Any) -> Any:
    """The platform of a scenario: behind the proxy, with the run's keys (`async with`)."""
    env = {**ENV, **kwargs.pop("env", {})}
    directory.mkdir(parents=True, exist_ok=True)
    return running_platform(directory, proxy=True, env=env, **kwargs)


def duplicate_platforms(directory: Path) -> Callable[[str], Any]:
    """Fresh platforms for the clean and the perturbed run of `duplicates`."""
    return lambda label: platform_for(directory / label, rules=DUPLICATE_RULES)


def _mixed(seed: int, run: str, events: int) -> list[tuple[RawRecord, bool]]:
    return [(record, kind in MALFORMED) for kind, record in storefront_records(seed, run, events)]


def _account(outcome: Outcome, h: Harness, violations: Violations, letters_expected: bool = True) -> None:
    """Lost, duplicated and broken invariants into the outcome."""
    lost = h.lost()
    outcome.lost += sum(lost.values())
    if lost:
        outcome.problems.append(f"not processed: {dict(lost)}")
    for name, count in violations.counts.items():
        if name in DUPLICATE_KINDS:
            outcome.duplicated += count
        elif name in LOST_KINDS:
            outcome.lost += count
        else:
            outcome.problems.append(f"{name}: {count}")
        outcome.notes.append(f"{name}: {count}, e.g. {violations.examples[name][:2]}")
    if violations.window_resends:
        outcome.notes.append(
            f"{violations.window_resends} mail(s) sent again after outreach was killed between the SMTP "
            "accept and its record (the documented window; not counted as duplicates)"
        )
    if h.exited:
        outcome.problems.append(f"services exited on their own: {h.exited}")


async def _check(outcome: Outcome, h: Harness) -> None:
    violations = await asyncio.to_thread(
        check_invariants, h.databases, h.mails, h.kills, h.platform.services["rewards"].url
    )
    _account(outcome, h, violations)
    letters = await h.dead_letters(at_least=sum(h.truth.expected_dead_letters().values()))
    missing, without_reason, unexpected = h.judge_dead_letters(letters)
    outcome.dead_lettered = len(letters)
    outcome.lost += missing
    if missing:
        outcome.problems.append(f"bad records not dead-lettered: {missing}")
    if without_reason:
        outcome.problems.append(f"dead letters without a reason: {without_reason}")
    if unexpected:
        outcome.problems.append(f"valid records dead-lettered: {unexpected}")
    reasons = Counter(letter.reason for letter in letters)
    outcome.notes.append(f"dead letters by reason: {dict(reasons.most_common())}")


def _stalls(outcome: Outcome, h: Harness, since: float = 0.0) -> None:
    outcome.max_stall = h.markers.max_stall(h.watch, since)
    latency = h.markers.max_latency(h.watch, since)
    outcome.notes.append(
        f"longest wait of a marker until all its consumers had it (backlog included): {latency:.1f} s"
    )


async def _drain(outcome: Outcome, h: Harness, timeout: float, mail_grace: float = 30) -> None:
    took = await h.drained(timeout)
    outcome.notes.append(f"every event processed and every outbox empty {took:.0f} s after the faults")
    if took >= timeout:
        outcome.problems.append(f"not drained within {timeout:.0f} s")
    due = await h.mails_sent(mail_grace)
    outcome.notes.append(
        f"mails accepted by SMTP: {len(h.platform.inbox.arrivals)}; due and not yet sent after up to "
        f"{mail_grace:.0f} s more: {due} (outreach's queue, feedback's team deliveries)"
    )


async def crashes(platform: Platform, seed: int, scale: Scale, log: Callable[[str], None] = print) -> Outcome:
    """`scale.kills` kill -9 of random services at random moments of a mixed run, each restarted."""
    rnd = random.Random(seed)
    records = _mixed(seed, f"k{seed}", scale.events)
    outcome = Outcome("crashes", scale.kills, "kill -9", scale.events)
    start = time.monotonic()
    async with harness(platform, f"k{seed}") as h:
        probe = asyncio.create_task(h.probe())
        killer = asyncio.create_task(_kill(platform, h, rnd, scale.kills, scale.events / scale.rate, log))
        await h.publisher.paced(records, scale.rate)
        log(f"crashes: {scale.events} events published in {time.monotonic() - start:.0f} s")
        await killer
        try:
            await asyncio.to_thread(platform.wait_healthy, 120)
        except AssertionError as error:
            outcome.problems.append(f"a service did not come back: {str(error)[:300]}")
        probe.cancel()
        await _drain(outcome, h, scale.drain_timeout, scale.mail_grace)
        _stalls(outcome, h)
        await _check(outcome, h)
        killed = Counter(name for _, name in h.kills)
        outcome.fault_detail = "kill -9: " + ", ".join(f"{n} {c}" for n, c in sorted(killed.items()))
    outcome.seconds = time.monotonic() - start
    return outcome


async def _kill(
    platform: Platform, h: Harness, rnd: random.Random, kills: int, span: float, log: Callable[[str], None]
) -> None:
    """Kill a random service at a random moment, restart it a moment later, `kills` times over `span` s."""
    gap = span / max(kills, 1)
    for _ in range(kills):
        await asyncio.sleep(rnd.uniform(0.3 * gap, 1.7 * gap))  # a random moment of the run, on purpose
        name = rnd.choice(SERVICE_NAMES)
        platform.services[name].kill()
        h.kills.append((time.monotonic(), name))
        await asyncio.sleep(rnd.uniform(0.2, 2.0))  # down a while before the restart, on purpose
        platform.start(name)
    log(f"crashes: {kills} kills done ({', '.join(n for _, n in h.kills)})")


async def cuts(platform: Platform, seed: int, scale: Scale, log: Callable[[str], None] = print) -> Outcome:
    """`scale.cuts` cuts of every broker connection (the proxy closes and refuses) during a run."""
    rnd = random.Random(seed + 1)
    records = _mixed(seed + 1, f"c{seed}", scale.cut_events)
    detail = f"{scale.cuts} × {scale.cut_seconds:.0f} s"
    outcome = Outcome("broker cuts", scale.cuts, detail, scale.cut_events)
    start = time.monotonic()
    assert platform.proxy is not None, "the platform runs without a proxy"
    proxy = platform.proxy
    async with harness(platform, f"c{seed}") as h:
        probe = asyncio.create_task(h.probe())

        async def cutter() -> None:
            span = scale.cut_events / scale.rate
            for _ in range(scale.cuts):
                # a random moment of the run for the next cut, on purpose
                await asyncio.sleep(max(3.0, rnd.uniform(0.1, 0.5) * span / scale.cuts))
                with proxy.cut():
                    log(f"cuts: broker cut for {scale.cut_seconds:.0f} s")
                    await asyncio.sleep(scale.cut_seconds)  # the cut lasts this long, on purpose

        cutting = asyncio.create_task(cutter())
        await h.publisher.paced(records, scale.rate)
        await cutting
        probe.cancel()
        await _drain(outcome, h, scale.drain_timeout, scale.mail_grace)
        _stalls(outcome, h)
        await _check(outcome, h)
        outcome.notes.append(f"records the run itself had to send again after a cut: {h.publisher.resent}")
    outcome.seconds = time.monotonic() - start
    return outcome


async def poison(platform: Platform, seed: int, scale: Scale, log: Callable[[str], None] = print) -> Outcome:
    """`scale.poison` bad records mixed into valid traffic; markers measure the stall of valid traffic."""
    rnd = random.Random(seed + 2)
    bad, kinds = bad_records(scale.poison, seed + 2, f"p{seed}", CONSUMERS)
    log(f"poison: {len(bad)} bad records generated ({dict(kinds)})")
    stream = _interleave(_mixed(seed + 2, f"p{seed}", scale.poison_valid), [(r, True) for r in bad], rnd)
    detail = ", ".join(f"{n} {k}" for k, n in kinds.most_common() if k != "drawn_again")
    outcome = Outcome(
        "poison", len(bad), f"{len(kinds) - 1} kinds of bad record", scale.poison_valid, stall_target=5.0
    )
    outcome.notes.append(f"bad records by kind: {detail}")
    start = time.monotonic()
    async with harness(platform, f"p{seed}") as h:
        probe = asyncio.create_task(h.probe())
        await asyncio.sleep(1)  # the probe measures a quiet second before the poison arrives
        began = time.monotonic()
        await h.publisher.paced(stream, scale.rate * 2)
        probe.cancel()
        await _drain(outcome, h, scale.drain_timeout, scale.mail_grace)
        _stalls(outcome, h, since=began)
        await _check(outcome, h)
        drawn = kinds["drawn_again"]
        outcome.notes.append(f"{drawn} broken records the contracts still accepted were drawn again")
    outcome.seconds = time.monotonic() - start
    return outcome


def _interleave(valid: list[tuple[RawRecord, bool]], bad: list[tuple[RawRecord, bool]],
                rnd: random.Random) -> list[tuple[RawRecord, bool]]:  # fmt: skip
    """`bad` scattered at random between the valid records, whose order is kept."""
    slots = sorted(rnd.randrange(len(valid) + 1) for _ in bad)
    out: list[tuple[RawRecord, bool]] = []
    it = iter(bad)
    j = 0
    for i, item in enumerate(valid):
        while j < len(slots) and slots[j] <= i:
            out.append(next(it))
            j += 1
        out.append(item)
    out.extend(it)
    return out


def perturb(
    records: list[tuple[RawRecord, bool]], rnd: random.Random, window: int = 100
) -> tuple[list[tuple[RawRecord, bool]], int, int]:
    """Every record 1–3 times, shuffled within `window` positions. The first copies of one
    customer's records on one topic keep their order (Kafka keeps a partition's order; only a
    redelivery comes late). Returns the stream, the extra copies and how many records arrive
    first at another place among the others than they were published."""
    placed: list[tuple[float, int, tuple[RawRecord, bool]]] = []
    firsts: list[tuple[float, int]] = []
    last: dict[tuple[str, bytes], float] = {}
    extra = 0
    for i, item in enumerate(records):
        record = item[0]
        floor = last.get((record.topic, record.key), -1e9)
        position = max(i + rnd.uniform(-window / 2, window / 2), floor + 1e-6)
        last[(record.topic, record.key)] = position
        placed.append((position, i, item))
        firsts.append((position, i))
        for _ in range(rnd.randint(1, 3) - 1):
            placed.append((position + rnd.uniform(0, window), i, item))
            extra += 1
    placed.sort(key=lambda p: p[0])
    moved = sum(1 for rank, (_, i) in enumerate(sorted(firsts)) if rank != i)
    return [item for _, _, item in placed], extra, moved


DUPLICATE_RULES: dict[str, dict[str, Any]] = {
    # welcomes wait long enough that none is sent in one run and not in the other
    "outreach": {"welcome_delay_minutes": 600},
    # the key-client tier is a ranking of everyone by revenue at the moment an order arrives: it
    # depends on arrival order by design, so it does not change what an order earns here, and
    # what follows from it is left out of the comparison (`ORDER_DEPENDENT`)
    "rewards": {"earning": {"tier_multipliers": {"member": "1", "repeat_buyer": "1", "key_client": "1"}}},
}


async def duplicates(
    platforms: Callable[[str], Any],
    seed: int,
    scale: Scale,
    log: Callable[[str], None] = print,
    *,
    parallel: bool = False,
) -> Outcome:
    """The same seeded input twice, on two fresh platforms (`platforms(label)` starts one): once
    clean, once with every record delivered 1–3 times and shuffled within bounds; the final
    states must be equal."""
    rnd = random.Random(seed + 3)
    # no erasures: a customer's events that arrive after their erasure are ignored by design, so
    # which of them beat the erasure (another topic) is a race even with clean input
    records = [
        item for item in _mixed(seed + 3, f"d{seed}", scale.duplicate_events)
        if item[0].topic != "commerce.customer.erased.v1"
    ]  # fmt: skip
    stream, extra, moved = perturb(records, rnd)
    detail = f"{extra} extra copies, {moved} records moved"
    outcome = Outcome("duplicates + reordering", extra + moved, detail, scale.duplicate_events)
    start = time.monotonic()

    async def one(label: str, run_records: list[tuple[RawRecord, bool]]) -> Counter[tuple[Any, ...]]:
        async with platforms(label) as platform, harness(platform, f"d{seed}") as h:
            await h.publisher.paced(run_records, scale.rate)
            # every due mail sent: what is sent, suppressed or still queued is part of the state compared
            await _drain(outcome, h, scale.drain_timeout, mail_grace=scale.drain_timeout)
            lost = h.lost()
            if lost:
                outcome.lost += sum(lost.values())
                outcome.problems.append(f"{label}: not processed: {dict(lost)}")
            state = await asyncio.to_thread(snapshot, h.databases, h.mails)
            if label == "perturbed":
                letters = await h.dead_letters(at_least=sum(h.truth.expected_dead_letters().values()))
                outcome.dead_lettered = len(letters)
                missing, without_reason, _ = h.judge_dead_letters(letters)
                if missing or without_reason:
                    outcome.problems.append(
                        f"bad records not dead-lettered with a reason: {missing + without_reason}"
                    )
            log(f"duplicates: {label} run drained")
            return state

    runs = (("clean", records), ("perturbed", stream))
    if parallel:  # both platforms at once: shorter, for the short version in `make test`
        states = list(await asyncio.gather(*(one(label, run) for label, run in runs)))
    else:
        states = [await one(label, run) for label, run in runs]
    clean, perturbed = states
    missing_facts, extra_facts = clean - perturbed, perturbed - clean
    outcome.lost += sum(missing_facts.values())
    outcome.duplicated += sum(extra_facts.values())
    if missing_facts or extra_facts:
        kinds = Counter(fact[0] for fact in (missing_facts + extra_facts).elements())
        outcome.notes.append(f"differences by kind: {dict(kinds)}")
        outcome.notes.append(f"only in the clean run, e.g. {list(missing_facts)[:3]}")
        outcome.notes.append(f"only in the perturbed run, e.g. {list(extra_facts)[:3]}")
    compared = Counter(fact[0] for fact in clean.elements())
    outcome.notes.append(f"facts compared: {sum(clean.values())} ({dict(compared)})")
    outcome.seconds = time.monotonic() - start
    return outcome
