"""`make demo`: a live summary of what the services did, read from their public outbound topics only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from womctl.up import SERVICES

__all__ = ["DLQ_TOPICS", "LINKS", "TOPICS", "Tally", "follow", "render"]

DLQ_TOPICS = tuple(f"{service}.dlq" for service in SERVICES)
TOPICS = (
    "rewards.reward.granted.v1", "rewards.reward.released.v1", "rewards.reward.revoked.v1",
    "referrals.code.issued.v1", "referrals.referral.attributed.v1",
    "referrals.referral.qualified.v1", "referrals.referral.rejected.v1", "referrals.referral.reversed.v1",
    "feedback.promoter.identified.v1", "feedback.case.opened.v1", "feedback.case.breached.v1",
    "feedback.case.resolved.v1", "outreach.message.sent.v1", "outreach.message.suppressed.v1",
    "outreach.message.failed.v1", *DLQ_TOPICS,
)  # fmt: skip
_REFERRALS, _FEEDBACK = (f"http://127.0.0.1:{SERVICES[name]}" for name in ("referrals", "feedback"))
LINKS = (
    ("support console", f"{_FEEDBACK}/console", "demo / demo (local use only)"),
    ("mail folder", "var/mail/", "one .eml file per mail sent"),
    ("referral analytics", f"{_REFERRALS}/analytics", "any user, password = the API token"),
    ("feedback analytics", f"{_FEEDBACK}/analytics/summary", "NPS, SLA compliance, recovery"),
)


@dataclass
class Tally:
    """What the services did, counted from their outbound events and dead letters."""

    grants: Counter[str] = field(default_factory=Counter)  # by reward kind
    points_granted: int = 0
    released: int = 0
    revoked: int = 0
    codes_issued: int = 0
    attributed: int = 0
    qualified: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    reversed: int = 0
    promoters: int = 0
    cases: dict[str, tuple[str, str]] = field(default_factory=dict)  # case id → priority, SLA state
    sent: Counter[str] = field(default_factory=Counter)  # by message kind
    suppressed: Counter[str] = field(default_factory=Counter)  # by reason
    failed: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # by service
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)

    def count(
        self, topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] = ()
    ) -> None:
        """Count one record of `topic` (binary-mode CloudEvent JSON, or a dead letter)."""
        if topic.endswith(".dlq"):
            self.dead_letters[topic.removesuffix(".dlq")] += 1
            reason = dict(headers).get("dlq.reason")
            self.dead_letter_reasons[reason.decode() if reason else "unknown"] += 1
            return
        try:
            data: dict[str, Any] = json.loads(value or b"{}")
        except ValueError:
            return
        if "data" in data and isinstance(data["data"], dict):  # structured mode
            data = data["data"]
        match topic:
            case "rewards.reward.granted.v1":
                self.grants[str(data.get("kind", "?"))] += 1
                self.points_granted += int(data.get("points") or 0)
            case "rewards.reward.released.v1":
                self.released += 1
            case "rewards.reward.revoked.v1":
                self.revoked += 1
            case "referrals.code.issued.v1":
                self.codes_issued += 1
            case "referrals.referral.attributed.v1":
                self.attributed += 1
            case "referrals.referral.qualified.v1":
                self.qualified += 1
            case "referrals.referral.rejected.v1":
                self.rejected[str(data.get("reason", "?"))] += 1
            case "feedback.promoter.identified.v1":
                self.promoters += 1
            case "referrals.referral.reversed.v1":
                self.reversed += 1
            case "feedback.case.opened.v1" | "feedback.case.breached.v1" | "feedback.case.resolved.v1":
                self._case(topic.split(".")[2], data)
            case "outreach.message.sent.v1":
                self.sent[str(data.get("kind", "?"))] += 1
            case "outreach.message.suppressed.v1":
                self.suppressed[str(data.get("reason", "?"))] += 1
            case "outreach.message.failed.v1":
                self.failed += 1

    def _case(self, what: str, data: dict[str, Any]) -> None:
        # the three topics are read independently, so a case's events may come in any order
        case_id = str(data.get("case_id", "?"))
        priority, state = self.cases.get(case_id, (str(data.get("priority", "?")), "within SLA"))
        if priority == "?":
            priority = str(data.get("priority", "?"))
        if what == "breached":
            state = "resolved late" if state.startswith("resolved") else "breached"
        elif what == "resolved":
            state = "resolved late" if state == "breached" else "resolved in time"
        self.cases[case_id] = (priority, state)

    @property
    def cases_opened(self) -> Counter[str]:
        """Cases by priority."""
        return Counter(priority for priority, _ in self.cases.values())

    def sla_states(self, priority: str) -> Counter[str]:
        """Cases of `priority` by SLA state: within SLA, breached, resolved in time, resolved late."""
        return Counter(state for p, state in self.cases.values() if p == priority)


def _by(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.most_common()) or "—"


def render(
    tally: Tally,
    published: Counter[str] | None = None,
    title: str = "wom demo",
    agent: Counter[str] | None = None,
) -> RenderableType:
    """The summary screen: what the storefront (and the support agent in the console) did, what
    each service did, and where to look."""
    table = Table(expand=True, show_lines=True)
    table.add_column("service", style="bold")
    table.add_column("did", justify="right")
    table.add_column("details", ratio=1)
    opened = sum(tally.cases_opened.values())
    by_priority = "; ".join(
        f"{priority} {n} ({_by(tally.sla_states(priority))})"
        for priority, n in sorted(tally.cases_opened.items())
    )
    table.add_row(
        "rewards", f"{tally.points_granted} points granted",
        f"{sum(tally.grants.values())} grants ({_by(tally.grants)}); "
        f"{tally.released} released, {tally.revoked} revoked",
    )  # fmt: skip
    table.add_row(
        "referrals", f"{tally.qualified} qualified, {sum(tally.rejected.values())} rejected",
        f"{tally.codes_issued} codes issued, {tally.attributed} attributed, {tally.reversed} reversed by a "
        f"refund inside the hold; rejected by reason: {_by(tally.rejected)}",
    )  # fmt: skip
    table.add_row(
        "feedback", f"{opened} cases opened",
        f"by priority and SLA state: {by_priority or '—'}; {tally.promoters} promoters identified",
    )  # fmt: skip
    table.add_row(
        "outreach", f"{sum(tally.sent.values())} mails sent",
        f"sent: {_by(tally.sent)}; {sum(tally.suppressed.values())} suppressed by reason: "
        f"{_by(tally.suppressed)}; {tally.failed} failed",
    )  # fmt: skip
    table.add_row(
        "dead letters", f"{sum(tally.dead_letters.values())} dead letters",
        f"by service: {_by(tally.dead_letters)}; by reason: {_by(tally.dead_letter_reasons)} "
        "(womctl dlq list SERVICE)",
    )  # fmt: skip
    parts: list[RenderableType] = []
    if published is not None:
        parts.append(f"[bold]storefront published[/] {sum(published.values())} steps: {_by(published)}")
    if agent is not None:
        parts.append(f"[bold]support agent[/] in the console: {_by(agent)}")
    parts.append(table)
    links = Table.grid(padding=(0, 2))
    for name, where, note in LINKS:
        links.add_row(f"[bold]{name}[/]", where, f"[dim]{note}[/]")
    parts.append(links)
    return Panel(Group(*parts), title=title)


async def follow(
    consumer: AIOKafkaConsumer,
    tally: Tally,
    timeout_ms: int = 500,
    seen: Callable[[str, bytes | None], None] | None = None,
) -> int:
    """Fetch what arrived on the consumer's topics, count it (and show it to `seen`); return how many."""
    batch = await consumer.getmany(timeout_ms=timeout_ms)
    records = [record for records in batch.values() for record in records]
    for record in records:
        tally.count(record.topic, record.value, record.headers)
        if seen is not None:
            seen(record.topic, record.value)
    return len(records)
