"""Reading the services' SQLite files while they run: which events each has processed (its inbox),
whether everything is drained, and the invariants of the issue."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from feedback.rules import load_rules as load_feedback_rules

from tests.support import API_TOKEN, SERVICE_NAMES

__all__ = ["Databases", "InboxWatch", "Mailbag", "Violations", "check_invariants", "snapshot"]


class Databases:
    """Read-only queries against each service's SQLite file (the services keep writing)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self._connections: dict[str, sqlite3.Connection] = {}
        self._closed = False
        # the harness reads from worker threads, and a cancelled `asyncio.to_thread` leaves its
        # query running: closing a connection under it is a use after free in sqlite3 (a segfault)
        self._lock = threading.Lock()

    def query(self, service: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"query of {service} after the databases were closed")
            return self._query(service, sql, *params)

    def _query(self, service: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = self._connections.get(service)
        if connection is None:
            connection = sqlite3.connect(self.paths[service], timeout=30, check_same_thread=False)
            connection.execute("PRAGMA query_only = 1")
            self._connections[service] = connection
        for attempt in range(50):
            try:
                return connection.execute(sql, params).fetchall()
            except sqlite3.OperationalError as error:  # locked by a writer, or tables not there yet
                if attempt == 49 or ("locked" not in str(error) and "no such table" not in str(error)):
                    raise
                time.sleep(0.1)  # between the 50 attempts that bound the retry
        raise AssertionError("unreachable")

    def scalar(self, service: str, sql: str, *params: Any) -> Any:
        return self.query(service, sql, *params)[0][0]

    def close(self) -> None:
        """Waits for a query still running in a worker thread, then closes every connection."""
        with self._lock:
            self._closed = True
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()


def _now_sql() -> str:
    """Now as the services store it in SQLite (naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


class InboxWatch:
    """Follows every service's inbox and remembers when each event id first appeared in it."""

    def __init__(self, databases: Databases, services: Iterable[str] = SERVICE_NAMES) -> None:
        self.databases = databases
        self.seen: dict[str, dict[str, float]] = {name: {} for name in services}
        self._last: dict[str, int] = dict.fromkeys(self.seen, 0)
        self._lock = threading.Lock()

    def poll(self) -> None:
        with self._lock:
            self._poll()

    def _poll(self) -> None:
        now = time.monotonic()
        for service, seen in self.seen.items():
            rows = self.databases.query(
                service,
                "SELECT rowid, event_id FROM inbox WHERE rowid > ? ORDER BY rowid",
                self._last[service],
            )
            for rowid, event_id in rows:
                seen.setdefault(event_id, now)
                self._last[service] = max(self._last[service], rowid)

    def missing(self, expected: dict[str, set[str]]) -> dict[str, set[str]]:
        return {s: ids - self.seen[s].keys() for s, ids in expected.items()}

    async def follow(self, every: float = 0.1) -> None:
        """Poll until cancelled (a background task of the run)."""
        while True:
            await asyncio.to_thread(self.poll)
            await asyncio.sleep(every)


def unsent_outbox(databases: Databases, older_than: float = 2.0) -> int:
    """Outbox rows waiting for the relay longer than `older_than` seconds: a backlog. Younger
    ones are work going on (outreach's delivery job records every mail it sends as an event, so
    while its mail queue lasts there is almost always a row a moment old)."""
    before = (datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=older_than)).isoformat(sep=" ")
    waiting = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND created_at < ?"
    return sum(int(databases.scalar(s, waiting, before)) for s in SERVICE_NAMES)


def due_messages(databases: Databases) -> int:
    """Outreach's messages and feedback's deliveries to support teams that are due and not yet
    tried to the end (each service sends its own on a schedule, after the events are consumed)."""
    now = _now_sql()
    messages = databases.scalar(
        "outreach", "SELECT count(*) FROM messages WHERE status = 'queued' AND next_attempt_at <= ?", now
    )
    deliveries = databases.scalar(
        "feedback", "SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?", now
    )
    return int(messages) + int(deliveries)


@dataclass
class Mailbag:
    """The SMTP inbox with arrival times (for telling the documented resend window from a real duplicate)."""

    arrivals: list[tuple[float, EmailMessage]] = field(default_factory=list)


@dataclass
class Violations:
    """What broke an invariant, by name: a count and a few examples."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    window_resends: int = 0  # mails sent again in the documented SMTP-accept-to-record window

    def add(self, name: str, items: list[Any]) -> None:
        if items:
            self.counts[name] += len(items)
            self.examples.setdefault(name, []).extend(repr(i) for i in items[:3])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def check_invariants(
    databases: Databases,
    mails: Mailbag,
    kills: list[tuple[float, str]],
    rewards_url: str,
    *,
    balance_sample: int = 200,
) -> Violations:
    """Every invariant of the issue, over the whole databases and every mail received."""
    v = Violations()
    q = databases.query
    v.add(
        "earn_twice_for_one_order",
        q(
            "rewards",
            "SELECT order_id, count(*) FROM ledger_entries WHERE kind = 'earn' "
            "GROUP BY order_id HAVING count(*) > 1",
        ),
    )
    # every storefront order is above the minimum and earns points in its currency
    v.add(
        "order_without_its_earn",
        q(
            "rewards",
            "SELECT o.order_id FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM ledger_entries e WHERE e.order_id = o.order_id AND e.kind = 'earn')",
        ),
    )
    v.add(
        "clawbacks_above_grant",
        q(
            "rewards",
            "SELECT g.id, g.amount, -sum(c.amount) FROM ledger_entries g "
            "JOIN ledger_entries c ON c.offsets_entry_id = g.id AND c.amount < 0 "
            "GROUP BY g.id, g.amount HAVING -sum(c.amount) > g.amount",
        ),
    )
    v.add(
        "referral_rewarded_twice",
        q(
            "rewards",
            "SELECT referral_id, kind, customer_id, count(*) FROM ledger_entries "
            "WHERE referral_id IS NOT NULL "
            "AND amount > 0 GROUP BY referral_id, kind, customer_id HAVING count(*) > 1",
        ),
    )
    outcomes = Counter[str]()
    for (value,) in q(
        "referrals",
        "SELECT value FROM outbox WHERE event_type IN "
        "('referrals.referral.qualified.v1', 'referrals.referral.rejected.v1')",
    ):
        outcomes[json.loads(value)["referral_id"]] += 1
    v.add("referral_with_two_outcomes", [r for r, n in outcomes.items() if n > 1])
    v.add(
        "two_cases_for_one_answer",
        q(
            "feedback",
            "SELECT first_response_id, count(*) FROM cases GROUP BY first_response_id HAVING count(*) > 1",
        ),
    )
    opened = Counter[str]()
    for (value,) in q("feedback", "SELECT value FROM outbox WHERE event_type = 'feedback.case.opened.v1'"):
        opened[json.loads(value)["case_id"]] += 1
    v.add("case_opened_twice", [c for c, n in opened.items() if n > 1])
    v.add(
        "negative_answer_without_case",
        q(
            "feedback",
            "SELECT response_id FROM responses WHERE category = 'detractor' AND case_id IS NULL "
            "AND customer_id NOT LIKE '#erased-%'",
        ),
    )
    v.add(
        "message_queued_twice",
        q(
            "outreach",
            "SELECT kind, cause_event_id, channel, count(*) FROM messages "
            "GROUP BY kind, cause_event_id, channel HAVING count(*) > 1",
        ),
    )
    _mail_duplicates(v, mails, kills)
    _balances(v, databases, rewards_url, balance_sample)
    return v


def _mail_duplicates(v: Violations, mails: Mailbag, kills: list[tuple[float, str]]) -> None:
    """A message mailed twice is a duplicate, unless its sender was killed between the first SMTP
    accept and the second send: the documented window (a send is recorded after the accept).
    Outreach's mails carry their message id, feedback's team mails their delivery id."""
    by_id: dict[tuple[str, str], list[float]] = {}
    for arrived, mail in mails.arrivals:
        if mail["X-Wom-Message-Id"]:
            key = ("outreach", str(mail["X-Wom-Message-Id"]))
        else:
            key = ("feedback", str(mail["X-Wom-Delivery"]))
        by_id.setdefault(key, []).append(arrived)
    real = []
    for (sender, message_id), times in by_id.items():
        sender_kills = [at for at, name in kills if name == sender]
        for first, again in pairwise(times):
            if any(first <= at <= again for at in sender_kills):
                v.window_resends += 1
            else:
                real.append(message_id)
    v.add("mail_sent_twice", real)


def _balances(v: Violations, databases: Databases, rewards_url: str, sample: int) -> None:
    """The balance rewards reports equals the sum of the customer's ledger entries (points)."""
    sums: dict[str, dict[str, int]] = {}
    for customer, status, total in databases.query("rewards",
            "SELECT customer_id, status, sum(amount) FROM ledger_entries WHERE unit = 'points' "
            "AND customer_id NOT LIKE '#erased-%' GROUP BY customer_id, status"):  # fmt: skip
        sums.setdefault(customer, {})[status] = int(total) // 10**4  # ExactDecimal(4): scaled integers
    wrong = []
    with httpx.Client(base_url=rewards_url, headers={"Authorization": f"Bearer {API_TOKEN}"}) as client:
        for customer in sorted(sums)[:sample]:
            points = client.get(f"/customers/{customer}/balance").raise_for_status().json()["points"]
            mine = sums[customer]
            if (points["available"], points["pending"]) != (mine.get("available", 0), mine.get("pending", 0)):
                wrong.append((customer, points, mine))
    v.add("balance_not_sum_of_entries", wrong)


ORDER_DEPENDENT_KINDS = (
    "tier_changed", "key_client_welcome", "referral_success", "referral_welcome_reward", "reward_revoked",
    "referral_ask",
)  # fmt: skip
"""Messages whose existence depends on arrival order by design: the key-client ranking, and a
friend's refund that arrives before (the referral is rejected, nobody is told) or after the
qualifying order (rewarded, told, then revoked and told again); the balances end the same. And a
referral ask tried before the promoter's code reached outreach is suppressed (`no_share_link`)
for good, even in clean input: the code and the promoter come from two services on two topics."""
# a key client's case goes to (or, when the customer becomes one, moves up to) the key-client queue,
# whose team is mailed: who is a key client when depends on arrival order, as above
KEY_CLIENT_QUEUES = frozenset(
    str(queue.email) for queue in load_feedback_rules().queues if queue.when.key_client and queue.email
)
_REFERRAL_OUTCOME = {"qualified": "standing", "approved": "standing", "rejected": "none", "reversed": "none"}


def _anonymous(value: Any) -> Any:
    """An erased customer's id is replaced by a random `#erased-…`: the same for every run here."""
    erased = isinstance(value, str) and value.startswith(("#erased-", "erased-"))
    return "#erased" if erased else value


def snapshot(databases: Databases, mails: Mailbag) -> Counter[tuple[Any, ...]]:
    """The state that must not depend on how often or in which order events arrived, without the
    ids the services make up (entry, referral, case and message ids) and without what follows
    from the key-client ranking (tiers, case priorities and queues, tier messages)."""
    q = databases.query
    facts: Counter[tuple[Any, ...]] = Counter()
    for name, *row in _snapshot_rows(q, mails):
        facts[(name, *(_anonymous(v) for v in row))] += 1
    return facts


def _snapshot_rows(q: Any, mails: Mailbag) -> Counter[tuple[Any, ...]]:
    facts: Counter[tuple[Any, ...]] = Counter()
    for row in q("rewards", "SELECT customer_id, kind, amount, status, order_id, refund_id "
                 "FROM ledger_entries WHERE kind IN ('earn', 'clawback')"):  # fmt: skip
        facts[("purchase ledger", *row)] += 1
    for row in q("rewards", "SELECT customer_id, unit, status, sum(amount) FROM ledger_entries "
                 "WHERE status IN ('available', 'pending') GROUP BY customer_id, unit, status"):  # fmt: skip
        facts[("balance", *row)] += 1
    for row in q("rewards", "SELECT order_id, customer_id, total, refunded FROM orders"):
        facts[("rewards.order", *row)] += 1
    for friend, advocate, status in q("referrals", "SELECT friend_id, advocate_id, status FROM referrals"):
        facts[("referral", friend, advocate, _REFERRAL_OUTCOME.get(status, status))] += 1
    for row in q("feedback", "SELECT customer_id, first_response_id, status FROM cases"):
        facts[("case", *row)] += 1
    for row in q("feedback", "SELECT response_id, category, case_id IS NOT NULL FROM responses"):
        facts[("response", *row)] += 1
    for row in q("outreach", "SELECT customer_id, kind, channel, status, reason FROM messages"):
        if row[1] not in ORDER_DEPENDENT_KINDS:
            facts[("message", *row)] += 1
    for _, mail in mails.arrivals:
        if str(mail["X-Wom-Kind"]) not in ORDER_DEPENDENT_KINDS and str(mail["To"]) not in KEY_CLIENT_QUEUES:
            facts[("mail", str(mail["To"]), str(mail["X-Wom-Kind"]))] += 1
    return facts
