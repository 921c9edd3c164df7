"""Outreach's mail: the CPU a composed mail costs, and how many mails a second its delivery job
hands to a local SMTP inbox, alone or beside its consume path.

    uv run python -m tests.bench.mail                                  # both parts, 5,000 mails
    uv run python -m tests.bench.mail --parts compose                  # µs of CPU per composed mail
    uv run python -m tests.bench.mail --mails 5000 --connections 1     # SMTP_CONNECTIONS for the run
    uv run python -m tests.bench.mail --mails 5000 --consume 20000     # the consume path beside it

Composing is timed in this process over every kind in every locale, with names in four scripts:
rendering the templates, then the mail's bytes built directly (`wom_chassis.mime`, as delivery
does) and, for comparison, with Python's `email` package as outreach did before (the reference
of `services/outreach/tests/unit/email_package.py`, flattened as aiosmtplib did); CPU per mail, the
best of three passes, after `gc.freeze()` as in the service.

Outreach runs as its own process, as deployed, on a SQLite file that holds `--mails` contacts with
one queued message each, due now: every kind in turn, in en, ru, ro-MD and sv, names with and
without diacritics, marketing consent and a share link, so that the ledger admits them all. The
inbox is aiosmtpd in this process (`wom_testkit.MailInbox`), keeping each mail's bytes and
the moment it accepted them; it parses them after the run (parsing as they arrive would cost this
process a core at these rates). The rate is mails from the first to the last accepted; CPU is the
outreach process's (user + system) over the same stretch, per mail.

With `--consume N` the broker holds N of the consume bench's outreach records (sign-ups, then
points earned: a thank-you each, due at once) before outreach starts, so it consumes them while
it delivers the queue; the run prints how fast it consumed and the longest time between two
committed consume transactions while mail was flowing.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import gc
import itertools
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outreach.kinds import KINDS
from outreach.models import Contact, Message
from rich.console import Console
from sqlalchemy import create_engine, func, insert, select
from wom_testkit import MailInbox, rules_file

from tests.bench.harness import (
    commit_times,
    embedded_broker,
    machine,
    migrate,
    process_cpu_seconds,
    produce,
    service_process,
)
from tests.bench.inputs import SERVICE_INPUTS

__all__ = [
    "DeliveryRun",
    "compose_costs",
    "delivery_rate",
    "print_compose_costs",
    "print_delivery",
    "queue_mails",
]

console = Console(width=max(Console().width, 132))
SHIPPED_RULES = Path(__file__).resolve().parents[2] / "services/outreach/src/outreach/rules.default.yaml"
LOCALES = ("en", "ru", "ro-MD", "sv")
NAMES = ("Anna", "Анна", "Ștefan", "Åsa", None)


class BenchInbox(MailInbox):
    """The SMTP inbox, keeping the bytes of each mail and when (`time.time()`) it was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrivals.append((time.time(), envelope.content))
        return "250 OK"


@dataclass
class DeliveryRun:
    """What one run measured."""

    mails: int
    seconds: float
    cpu_us: float  # of the outreach process, per mail
    distinct: int  # distinct X-Wom-Message-Id among the mails received
    consumed: int = 0
    consume_rate: float = float("nan")
    longest_consume_gap: float = float("nan")  # longest between two consume commits while mail flowed
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return (self.mails - 1) / self.seconds if self.seconds > 0 else float("nan")


def queue_mails(database: Path, count: int, run: str) -> None:
    """`count` contacts with one queued email each, due now, every kind and locale in turn."""
    now = datetime.now(UTC)
    kinds = sorted(KINDS)
    contacts, messages = [], []
    for n in range(count):
        customer = f"{run}-c{n}"
        contacts.append(
            {
                "customer_id": customer,
                "email": f"{customer}@example.com",
                "first_name": NAMES[n % len(NAMES)],
                "locale": LOCALES[n % len(LOCALES)],
                "timezone": "UTC",
                "marketing_consent": True,
                "registered_at": now,
                "order_count": 1,
                "tier": "repeat_buyer",
                "referral_code": f"R{n}",
                "share_url": f"https://r.example.com/r/R{n}",
                "points_available": 1250,
                "points_pending": 120,
                "updated_at": now,
            }
        )
        kind = KINDS[kinds[n % len(kinds)]]
        messages.append(
            {
                "id": f"{run}-m{n}",
                "customer_id": customer,
                "kind": kind.name,
                "message_class": kind.message_class,
                "channel": "email",
                "cause_event_id": f"{run}-e{n}",
                "status": "queued",
                "data": dict(kind.sample),
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(insert(Contact.__table__), contacts)
        conn.execute(insert(Message.__table__), messages)
    engine.dispose()


def _statuses(database: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        rows = conn.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    engine.dispose()
    return {str(status): int(n) for status, n in rows}


def delivery_rate(
    directory: Path, mails: int, *, connections: int | None = None, consume: int = 0, stuck: float = 60
) -> DeliveryRun:
    """Queue `mails`, start outreach with an SMTP inbox (and `consume` records on the broker), and
    time the mails it hands over until every one has arrived."""
    run = uuid.uuid4().hex[:6]
    database = directory / f"outreach-mail-{run}.db"
    migrate("outreach", database)
    queue_mails(database, mails, run)
    calm = (datetime.now(UTC).hour + 6) % 24  # quiet hours that never cover the run
    rules = rules_file(
        directory,
        SHIPPED_RULES,
        {
            "quiet_hours": {"start": f"{calm:02d}:00", "end": f"{(calm + 1) % 24:02d}:00"},
            "welcome_delay_minutes": 24 * 60,  # the consumed sign-ups' welcomes: not in this run
        },
    ).rename(directory / f"outreach-rules-{run}.yaml")
    expected = mails + consume // 2  # each consumed pair queues one thank-you, due at once
    env = {"DELIVERY_EVERY_SECONDS": "0.2", "OUTREACH_RULES_FILE": str(rules)}
    if connections is not None:
        env["SMTP_CONNECTIONS"] = str(connections)
    with embedded_broker() as bootstrap, BenchInbox() as inbox:
        if consume:
            asyncio.run(produce(bootstrap, SERVICE_INPUTS["outreach"](run, consume)))
        env |= {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(inbox.port)}
        service = service_process(
            "outreach", directory, bootstrap, database=database, group=f"bench-mail-{run}", env=env
        ).start()
        assert service.process is not None
        cpu_first = cpu_last = 0.0
        seen, last_change = 0, time.monotonic()
        try:
            while len(inbox.arrivals) < expected:
                time.sleep(0.05)  # the poll's interval: the stuck check below bounds it
                if service.process.poll() is not None:
                    raise RuntimeError(f"outreach exited:\n{service.log.read_text()[-4000:]}")
                arrived, cpu = len(inbox.arrivals), process_cpu_seconds(service.process.pid)
                if arrived and not cpu_first:
                    cpu_first = cpu
                if arrived > seen:
                    seen, cpu_last, last_change = arrived, cpu, time.monotonic()
                if time.monotonic() - last_change > stuck:
                    raise RuntimeError(f"stuck at {arrived} of {expected} mails: {_statuses(database)}")
            cpu_last = process_cpu_seconds(service.process.pid)
        finally:
            service.stop()
    times = [when for when, _ in inbox.arrivals]
    ids = {
        email.message_from_bytes(content, policy=email.policy.default)["X-Wom-Message-Id"]
        for _, content in inbox.arrivals
    }
    result = DeliveryRun(
        mails=len(times),
        seconds=times[-1] - times[0],
        cpu_us=(cpu_last - cpu_first) / max(len(times) - 1, 1) * 1e6,
        distinct=len(ids),
        statuses=_statuses(database),
    )
    if consume:
        commits = [moment.timestamp() for moment in commit_times(database)]
        result.consumed = len(commits)
        span = commits[-1] - commits[0] if len(commits) > 1 else float("nan")
        result.consume_rate = (len(commits) - 1) / span if span > 0 else float("nan")
        # consecutive commits while mail flowed (the consumer's group join before its first is not
        # the delivery job's doing)
        gaps = [b - a for a, b in itertools.pairwise(commits) if b >= times[0] and a <= times[-1]]
        result.longest_consume_gap = max(gaps, default=float("nan"))
    return result


def compose_costs(passes: int = 3, rounds: int = 20) -> dict[str, float]:
    """µs of CPU per mail: rendering, composing the bytes directly, with the `email` package."""
    from outreach.channels import EmailChannel, Outgoing
    from outreach.kinds import sample_context
    from outreach.settings import OutreachSettings
    from outreach.templates import Templates
    from wom_chassis.mail import MailPool

    from services.outreach.tests.unit.email_package import mail_as_the_email_package_wrote_it

    settings = OutreachSettings(database_url="sqlite+aiosqlite:///:memory:")
    templates, channel = Templates(), EmailChannel(settings, MailPool(settings))
    cases = [
        (kind, locale, {**sample_context(kind), "first_name": name})
        for kind in sorted(KINDS)
        for locale in LOCALES
        for name in NAMES
    ]
    outgoing = []
    for n, (kind, locale, context) in enumerate(cases):
        rendered = templates.render(kind, locale, context)
        marketing = KINDS[kind].message_class == "marketing"
        outgoing.append(
            Outgoing(
                message_id=f"m-{n}",
                kind=kind,
                message_class=KINDS[kind].message_class,
                customer_id=f"c-{n}",
                recipient=f"c-{n}@example.com",
                locale=rendered.locale,
                rendered=rendered,
                unsubscribe_url=context["unsubscribe_url"] if marketing else None,
            )
        )
    steps: dict[str, Callable[[], object]] = {
        "render": lambda: [templates.render(kind, locale, context) for kind, locale, context in cases],
        "compose directly": lambda: [channel.compose(out) for out in outgoing],
        "compose with the email package": lambda: [
            mail_as_the_email_package_wrote_it(out, settings.mail_from) for out in outgoing
        ],
    }
    gc.collect()
    gc.freeze()
    costs = {}
    for name, step in steps.items():
        best = float("inf")
        for _ in range(passes):
            started = time.process_time()
            for _ in range(rounds):
                step()
            best = min(best, (time.process_time() - started) / (rounds * len(cases)) * 1e6)
        costs[name] = best
    return costs


def print_compose_costs() -> None:
    """Print the µs of CPU per composed mail."""
    costs = compose_costs()
    console.print(
        "composing a mail, µs of CPU: "
        + ", ".join(f"{name} {cost:,.0f}" for name, cost in costs.items())
        + f"; render + compose directly {costs['render'] + costs['compose directly']:,.0f}"
    )


def print_delivery(directory: Path, mails: int, *, connections: int | None = None, consume: int = 0) -> None:
    """Run `delivery_rate` and print what it measured."""
    result = delivery_rate(directory, mails, connections=connections, consume=consume)
    console.print(
        f"delivery: {result.mails:,} mails ({result.distinct:,} distinct) in {result.seconds:.2f} s = "
        f"{result.rate:,.0f} mails/s, outreach CPU {result.cpu_us:,.0f} µs/mail; messages {result.statuses}"
    )
    if consume:
        console.print(
            f"consume path meanwhile: {result.consumed:,} events at {result.consume_rate:,.0f}/s, the "
            f"longest between two consume commits while mail flowed {result.longest_consume_gap:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--parts", default="compose,delivery", help="comma-separated, of compose, delivery")
    parser.add_argument("--mails", type=int, default=5_000, help="queued mails to deliver")
    parser.add_argument("--connections", type=int, help="SMTP_CONNECTIONS of the run (its default if unset)")
    parser.add_argument("--consume", type=int, default=0, help="outreach records to consume meanwhile")
    parser.add_argument("--keep", type=Path, help="keep databases and logs in this directory")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    console.print(f"machine: {machine()}")
    if "compose" in parts:
        print_compose_costs()
    if "delivery" in parts:
        with tempfile.TemporaryDirectory(prefix="wom-bench-mail-") as temporary:
            directory = args.keep or Path(temporary)
            directory.mkdir(parents=True, exist_ok=True)
            print_delivery(directory, args.mails, connections=args.connections, consume=args.consume)
    console.print(f"machine after the run: {machine()}")


if __name__ == "__main__":
    main()
