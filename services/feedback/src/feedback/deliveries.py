"""Escalation deliveries: the log of the webhooks and emails that tell support teams about
cases, and the job that sends them, retries with backoff and dead-letters after the last attempt.

Network calls never run inside a database transaction: a run claims a batch of due deliveries
(pushing their next attempt out by a lease, so another run or replica leaves them alone), commits,
sends (emails over the run's pool of SMTP connections), then records each outcome in its own
short transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import JSON, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column
from wom_chassis import Service, UtcDateTime, get_logger, utcnow
from wom_chassis.deadletters import DeadLetter
from wom_chassis.mail import MailPool
from wom_chassis.mime import Mail, MailComposer
from wom_chassis.signatures import signature
from wom_chassis.tracing import continue_trace

from feedback.models import Base
from feedback.rules import EscalationRules, Rules
from feedback.settings import FeedbackSettings

__all__ = [
    "DEAD_LETTER_REASON",
    "Delivery",
    "backoff",
    "console_path",
    "deliver_due",
    "escalation_mail",
    "signature",
]

log = get_logger(__name__)

DEAD_LETTER_REASON = "escalation_delivery_failed"
BATCH = 20
"""Deliveries claimed, and sent concurrently, per round of a run."""


class Delivery(Base):
    """One message to a support team about one case: a signed webhook or an email, with the
    payload frozen when it was scheduled and the outcome of the latest attempt."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_case", "case_id", "created_at"),
        Index("ix_deliveries_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    """webhook | email"""
    what: Mapped[str] = mapped_column(String(16))
    """opened | breached"""
    target: Mapped[str] = mapped_column(String(2048))
    """the webhook's URL or the queue's email address"""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | delivered | dead"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # the trace of the work that scheduled the delivery: every attempt continues it
    traceparent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tracestate: Mapped[str | None] = mapped_column(String(512), nullable=True)


@dataclass(frozen=True)
class _Claimed:
    """What a run needs of a claimed delivery once its transaction is closed."""

    id: str
    case_id: str
    queue: str
    channel: str
    what: str
    target: str
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    traceparent: str | None
    tracestate: str | None


@dataclass(frozen=True)
class _Senders:
    """What a run sends with: an HTTP client for webhooks, a pool of SMTP connections for email."""

    http: httpx.AsyncClient
    mail: MailPool
    composer: MailComposer


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def console_path(case_id: str) -> str:
    """Where the support console shows the case."""
    return f"/console/cases/{case_id}"


def backoff(attempts: int, rules: EscalationRules) -> timedelta:
    """The wait after the `attempts`-th failed attempt: doubling from `backoff_seconds`, capped."""
    seconds = min(rules.backoff_seconds * 2.0 ** min(attempts - 1, 60), rules.max_backoff_seconds)
    return timedelta(seconds=seconds)


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _due_text(payload: dict[str, Any]) -> str:
    try:
        return datetime.fromisoformat(str(payload["sla_due_at"])).strftime("%Y-%m-%d %H:%M UTC")
    except (KeyError, ValueError):
        return str(payload.get("sla_due_at", "?"))


def escalation_mail(composer: MailComposer, payload: dict[str, Any], to: str, delivery_id: str) -> Mail:
    """The short plain-text mail that tells a queue's team what happened to a case."""
    case_id, queue, what = payload["case_id"], payload["queue"], payload["what"]
    happened = "was opened" if what == "opened" else "is past its SLA"
    subject = f"[{payload['priority']}] case {case_id} {what} in queue {queue} — due {_due_text(payload)}"
    facts = [
        ("Priority", payload["priority"] + (" (key client)" if payload.get("key_client") else "")),
        ("Status", payload.get("status", "?")),
        ("Customer", payload["customer_id"]),
        ("Signals", ", ".join(payload.get("signals") or []) or "none"),
        ("Opened at", payload.get("opened_at", "?")),
        ("Due by", payload.get("sla_due_at", "?")),
        ("Happened at", payload.get("occurred_at", "?")),
    ]
    lines = [f"Case {case_id} {happened} in queue {queue}.", ""]
    lines += [f"{label + ':':<13}{value}" for label, value in facts]
    lines += ["", f"Open it in the support console: {payload.get('console_path', console_path(case_id))}"]
    text = "\n".join(lines) + "\n"
    return composer.compose(
        to, subject, text, headers=[("X-Wom-Delivery", delivery_id)], idstring=delivery_id
    )


async def _post_webhook(client: httpx.AsyncClient, claimed: _Claimed, rules: Rules) -> _Outcome:
    queue = next((q for q in rules.queues if q.name == claimed.queue), None)
    if queue is None or queue.webhook is None:
        return _Outcome(False, error=f"queue {claimed.queue} has no webhook in the rules any more")
    secret = os.environ.get(queue.webhook.secret_env)
    if not secret:
        return _Outcome(False, error=f"the webhook secret variable {queue.webhook.secret_env} is not set")
    body = _body(claimed.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Wom-Event": f"case.{claimed.what}",
        "X-Wom-Delivery": claimed.id,
        "X-Wom-Timestamp": timestamp,
        "X-Wom-Signature": signature(secret, timestamp, body),
    }
    response = await client.post(claimed.target, content=body, headers=headers)
    if response.is_success:
        return _Outcome(True, response.status_code)
    return _Outcome(False, response.status_code, f"HTTP {response.status_code}: {response.text[:500]}")


async def _send_email(claimed: _Claimed, senders: _Senders) -> _Outcome:
    await senders.mail.send(escalation_mail(senders.composer, claimed.payload, claimed.target, claimed.id))
    return _Outcome(True)


async def _attempt(
    senders: _Senders, claimed: _Claimed, rules: Rules, settings: FeedbackSettings
) -> _Outcome:
    limit = (
        rules.escalation.timeout_seconds if claimed.channel == "webhook" else settings.smtp_timeout_seconds
    )
    try:
        async with asyncio.timeout(limit * 2):  # httpx times each phase; this bounds the whole call
            if claimed.channel == "webhook":
                return await _post_webhook(senders.http, claimed, rules)
            return await _send_email(claimed, senders)
    except Exception as error:  # whatever went wrong is this attempt's error, never the run's
        return _Outcome(False, error=f"{type(error).__name__}: {error}"[:4000])


async def _dead_letter(service: Service, claimed: _Claimed, error: str, attempts: int) -> None:
    settings = service.settings
    source = _DeliverySource(
        topic=f"{settings.service_name}.escalations",
        key=str(claimed.payload.get("customer_id", "")).encode() or None,
        value=_body(claimed.payload),
        headers=[
            ("content-type", b"application/json"),
            ("x-wom-event", f"case.{claimed.what}".encode()),
            ("x-wom-delivery", claimed.id.encode()),
            ("x-wom-channel", claimed.channel.encode()),
            ("x-wom-queue", claimed.queue.encode()),
            ("x-wom-case", claimed.case_id.encode()),
        ],
    )
    letter = DeadLetter(source, reason=DEAD_LETTER_REASON, error=error, attempts=attempts)
    await service.processor.dead_letter([letter])
    log.warning("delivery_dead_lettered", delivery_id=claimed.id, case_id=claimed.case_id, error=error)


@dataclass
class _DeliverySource:
    """A delivery seen as the source of a dead letter: it came from no topic, hence offset -1."""

    topic: str
    key: Any
    value: Any
    headers: Sequence[tuple[str, bytes | None]]
    partition: int = -1
    offset: int = -1


async def _claim(service: Service, now: datetime, lease: timedelta) -> list[_Claimed]:
    async with service.work() as uow:
        rows = (
            await uow.session.scalars(
                select(Delivery)
                .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        claimed = []
        for row in rows:
            row.next_attempt_at = now + lease
            claimed.append(
                _Claimed(
                    id=row.id,
                    case_id=row.case_id,
                    queue=row.queue,
                    channel=row.channel,
                    what=row.what,
                    target=row.target,
                    payload=dict(row.payload),
                    attempts=row.attempts,
                    last_error=row.last_error,
                    traceparent=row.traceparent,
                    tracestate=row.tracestate,
                )
            )
        return claimed


async def _handle(
    service: Service,
    senders: _Senders,
    claimed: _Claimed,
    *,
    rules: Rules,
    settings: FeedbackSettings,
    now: datetime,
) -> None:
    limit = rules.escalation.webhook_attempts
    if claimed.attempts < limit:
        with continue_trace("deliver escalation", claimed.traceparent, claimed.tracestate):
            outcome = await _attempt(senders, claimed, rules, settings)
        attempts = claimed.attempts + 1
    else:  # out of attempts earlier, but its dead letter could not be published then
        outcome, attempts = _Outcome(False, error=claimed.last_error), claimed.attempts
    dead = False
    if not outcome.ok and attempts >= limit:
        try:
            await _dead_letter(service, claimed, outcome.error or "unknown error", attempts)
            dead = True
        except Exception as error:  # kept pending: the dead letter is tried again after the backoff
            log.error("delivery_dead_letter_failed", delivery_id=claimed.id, error=repr(error))
    async with service.work() as uow:
        row = await uow.session.get(Delivery, claimed.id, with_for_update=True)
        if row is None or row.status != "pending" or row.attempts != claimed.attempts:
            return  # our lease ran out and another run recorded this delivery meanwhile
        row.attempts = attempts
        if claimed.attempts < limit:
            row.last_status_code, row.last_error = outcome.status_code, outcome.error
        if outcome.ok:
            row.status, row.delivered_at = "delivered", utcnow()
        elif dead:
            row.status = "dead"
        else:
            row.next_attempt_at = now + backoff(attempts, rules.escalation)
    log.info(
        "delivery_attempted",
        delivery_id=claimed.id,
        case_id=claimed.case_id,
        channel=claimed.channel,
        attempts=attempts,
        status=row.status,
        status_code=outcome.status_code,
        error=outcome.error,
    )


async def deliver_due(
    service: Service, *, rules: Rules, settings: FeedbackSettings, now: datetime | None = None
) -> int:
    """Attempt every delivery that is due once: delivered, retried later with backoff, or
    dead-lettered after `rules.escalation.webhook_attempts` failures. Returns how many it took up."""
    now = now or utcnow()
    slowest = max(rules.escalation.timeout_seconds, settings.smtp_timeout_seconds)
    lease = timedelta(seconds=4 * slowest + 60)
    taken = 0
    async with (
        httpx.AsyncClient(timeout=rules.escalation.timeout_seconds) as client,
        MailPool(settings) as pool,
    ):
        senders = _Senders(client, pool, settings.composer())
        # claimed rows move past `now` (lease, then backoff): each is attempted at most once a run
        while claimed := await _claim(service, now, lease):
            results = await asyncio.gather(
                *(_handle(service, senders, c, rules=rules, settings=settings, now=now) for c in claimed),
                return_exceptions=True,
            )
            taken += len(claimed)
            failures = [result for result in results if isinstance(result, BaseException)]
            if failures:  # the rest were recorded; the lease brings these back later
                raise failures[0]
    return taken
