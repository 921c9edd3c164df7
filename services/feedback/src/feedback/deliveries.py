"""Escalation deliveries: the log of the webhooks and emails that tell support teams about
cases, and the job that sends them, retries with backoff and dead-letters after the last attempt.

The rounds are the chassis' delivery engine (`wom_chassis.delivery`): due deliveries claimed and
leased, sent with no transaction open (signed webhooks, emails over the run's pool of SMTP
connections), each outcome recorded while its lease holds. This module is feedback's part: how
one delivery is sent, what its outcome records, and the dead letter after the last attempt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from wom_chassis import Service, UnitOfWork, UtcDateTime, get_logger, utcnow
from wom_chassis.deadletters import DeadLetter
from wom_chassis.delivery import Backoff, DeliveryEngine, Leased, Outcome
from wom_chassis.errors import Reported
from wom_chassis.mail import MailPool
from wom_chassis.mime import Mail, MailComposer
from wom_chassis.signatures import post_signed_webhook, webhook_client

from feedback.models import Base
from feedback.rules import EscalationRules, Rules
from feedback.settings import FeedbackSettings

__all__ = [
    "DEAD_LETTER_REASON",
    "Delivery",
    "backoff_of",
    "console_path",
    "deliver_due",
    "escalation_mail",
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


@dataclass(frozen=True)
class _Senders:
    """What a run sends with: an HTTP client for webhooks, a pool of SMTP connections for email."""

    http: httpx.AsyncClient
    mail: MailPool
    composer: MailComposer


def console_path(case_id: str) -> str:
    """Where the support console shows the case."""
    return f"/console/cases/{case_id}"


def backoff_of(rules: EscalationRules) -> Backoff:
    """The escalation rules' backoff: doubling from `backoff_seconds`, capped, no jitter."""
    return Backoff(
        first_seconds=rules.backoff_seconds,
        max_attempts=rules.webhook_attempts,
        max_seconds=rules.max_backoff_seconds,
    )


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


class _NotSent(Reported, RuntimeError):
    """A delivery that could not be attempted (its queue or secret is gone from the setup)."""


@dataclass
class _Escalations:
    """Feedback's part of a delivery round (`wom_chassis.delivery.Outbound`)."""

    service: Service
    rules: Rules
    settings: FeedbackSettings
    senders: _Senders

    model = Delivery
    pending = "pending"

    def due(self, statement: Any) -> Any:
        """Due deliveries, the earliest first."""
        return statement

    def take(self, rows: Sequence[Any]) -> Sequence[Any]:
        """Every claimed delivery."""
        return rows

    async def admit(
        self, uow: UnitOfWork[None], rows: Sequence[Any], now: datetime
    ) -> list[tuple[Any, _Claimed]]:
        """Every claimed delivery, with what sending it needs."""
        return [(row, _claimed(row)) for row in rows]

    async def send(self, leased: Leased[_Claimed]) -> int | None:
        """POST the signed webhook or send the email; the HTTP status, for the record."""
        claimed = leased.item
        if claimed.channel == "webhook":
            response = await post_signed_webhook(
                self.senders.http,
                claimed.target,
                _body(claimed.payload),
                secret=self._secret(claimed.queue),
                event=f"case.{claimed.what}",
                delivery_id=claimed.id,
                timeout_seconds=self.rules.escalation.timeout_seconds,
            )
            return response.status_code
        mail = escalation_mail(self.senders.composer, claimed.payload, claimed.target, claimed.id)
        await self.senders.mail.send(mail)
        return None

    def _secret(self, queue_name: str) -> str:
        queue = self.rules.queue(queue_name)
        if queue is None or queue.webhook is None:
            raise _NotSent(f"queue {queue_name} has no webhook in the rules any more")
        secret = os.environ.get(queue.webhook.secret_env)
        if not secret:
            raise _NotSent(f"the webhook secret variable {queue.webhook.secret_env} is not set")
        return secret

    async def report(self, leased: Leased[_Claimed], outcome: Outcome[_Claimed]) -> None:
        """The dead letter of a delivery given up."""
        await _dead_letter(self.service, leased.item, outcome.error or "unknown error", leased.attempt)

    async def sent(
        self, uow: UnitOfWork[None], rows: Sequence[tuple[Any, Outcome[_Claimed]]], now: datetime
    ) -> None:
        """Mark the deliveries delivered."""
        for row, outcome in rows:
            row.status, row.delivered_at = "delivered", utcnow()
            row.last_status_code, row.last_error = outcome.detail, None
            _log_attempt(row)

    async def failed(
        self, uow: UnitOfWork[None], row: Any, outcome: Outcome[_Claimed], retry_at: datetime | None
    ) -> None:
        """Keep the attempt's error; dead when given up (its dead letter is out)."""
        row.last_status_code = getattr(outcome.detail, "status_code", None)
        row.last_error = outcome.error
        if retry_at is None:
            row.status = "dead"
        _log_attempt(row)


def _claimed(row: Delivery) -> _Claimed:
    return _Claimed(
        id=row.id,
        case_id=row.case_id,
        queue=row.queue,
        channel=row.channel,
        what=row.what,
        target=row.target,
        payload=dict(row.payload),
    )


def _log_attempt(row: Delivery) -> None:
    log.info(
        "delivery_attempted",
        delivery_id=row.id,
        case_id=row.case_id,
        channel=row.channel,
        attempts=row.attempts,
        status=row.status,
        status_code=row.last_status_code,
        error=row.last_error,
    )


async def deliver_due(
    service: Service, *, rules: Rules, settings: FeedbackSettings, now: datetime | None = None
) -> int:
    """Attempt every delivery that is due once: delivered, retried later with backoff, or
    dead-lettered after `rules.escalation.webhook_attempts` failures. Returns how many it took up."""
    at = now or utcnow()
    escalation = rules.escalation
    taken = 0
    async with (
        webhook_client(escalation.timeout_seconds) as client,
        MailPool(settings) as pool,
    ):
        engine: DeliveryEngine[_Claimed] = DeliveryEngine(
            _Escalations(service, rules, settings, _Senders(client, pool, settings.composer())),
            name="escalation",
            backoff=backoff_of(escalation),
            round_size=BATCH,
            concurrency=BATCH,
            send_timeout_seconds=2 * max(escalation.timeout_seconds, settings.smtp_timeout_seconds),
            clock=lambda: at,
        )
        # claimed rows move past `at` (lease, then backoff): each is attempted at most once a run
        while round_taken := await engine.deliver_round(service):
            taken += round_taken
    return taken
