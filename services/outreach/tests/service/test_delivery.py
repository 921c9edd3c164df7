"""The delivery job in rounds against real SMTP servers: mails go out concurrently, a connection
that hangs or drops fails its own mail only (retried, then failed, as ever), a customer's messages
see each other through the ledger, and the consume path goes on while a big queue is mailed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from outreach.delivery import Delivery
from outreach.models import Message
from outreach.rules import load_rules
from outreach.settings import OutreachSettings
from outreach.templates import Templates
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import Service, utcnow
from wom_contracts import Event, MessageFailedV1, MessageSentV1, MessageSuppressedV1
from wom_testkit import MailInbox, emitted, record_of

from ..conftest import OutreachFactory
from .test_loop import code, granted, key_client, promoter, registered

SMTP_TIMEOUT = 2.0
"""The longest a hanging relay holds up its mail (smtp_timeout_seconds of these tests)."""


class TroubledInbox(MailInbox):
    """Mail to slow@ is never answered, mail to drop@ loses its connection, the rest arrives,
    each after `delay` seconds (a relay across a network)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.arrived: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient.startswith("slow@"):
            await asyncio.sleep(3600)  # hangs on purpose: the client's timeout ends it
        if recipient.startswith("drop@"):
            server.transport.close()
            return "421 closing"
        await asyncio.sleep(self.delay)
        answer = await super().handle_DATA(server, session, envelope)
        self.arrived.append(time.monotonic())
        return answer


def delivery_of(service: Service) -> Delivery:
    settings = service.settings
    assert isinstance(settings, OutreachSettings)
    return Delivery(load_rules(settings.outreach_rules_file), settings, Templates())


async def consume(service: Service, events: list[Event], batch: int = 100) -> None:
    records = [record_of(event, offset=n) for n, event in enumerate(events)]
    for start in range(0, len(records), batch):
        await service.processor.process(records[start : start + batch])


async def thank_yous(service: Service) -> dict[str, tuple[str, int, str | None]]:
    """Each customer's thank-you: its status, attempts and last error."""
    async with service.db.session() as session:
        rows = await session.execute(
            select(Message.customer_id, Message.status, Message.attempts, Message.last_error).where(
                Message.kind == "purchase_thank_you"
            )
        )
        return {customer: (status, attempts, error) for customer, status, attempts, error in rows}


async def until(condition: Callable[[], Any], *, seconds: float) -> None:
    """Wait (polling, bounded by `seconds`) until `condition()` (a coroutine function) is true."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.02)


async def test_a_hanging_or_dropping_connection_fails_its_own_mail_only(
    make_outreach: OutreachFactory,
) -> None:
    customers = ["slow", "drop", *(f"c{n}" for n in range(10))]
    with TroubledInbox() as inbox:
        async with make_outreach(
            smtp_port=inbox.port, smtp_timeout_seconds=SMTP_TIMEOUT, smtp_connections=2
        ) as service:
            await consume(
                service, [e for c in customers for e in (registered(c), granted(c, reward_id=f"r-{c}"))]
            )
            delivery = delivery_of(service)
            started = time.monotonic()
            round_ = asyncio.create_task(delivery.deliver_due(service))

            async def the_others_are_recorded() -> bool:
                return sum(status == "sent" for status, _, _ in (await thank_yous(service)).values()) == 10

            # while the hanging mail still waits for its answer, the others are sent and recorded
            await until(the_others_are_recorded, seconds=SMTP_TIMEOUT)
            assert not round_.done()
            assert await round_ == 12
            assert time.monotonic() - started < SMTP_TIMEOUT + 5, "the hanging mail gave up in time"
            now = await thank_yous(service)
            assert now["slow"][:2] == ("queued", 1) and "Timeout" in str(now["slow"][2])
            assert now["drop"][:2] == ("queued", 1) and "SMTP" in str(now["drop"][2])
            assert await emitted(service, MessageFailedV1) == []

            async with service.db.transaction() as session:  # their retry is due (no backoff wait)
                await session.execute(
                    update(Message)
                    .where(Message.kind == "purchase_thank_you", Message.status == "queued")
                    .values(next_attempt_at=utcnow())
                )
            assert await delivery.deliver_due(service) == 2
            await delivery.close()
            failed = await emitted(service, MessageFailedV1)
            assert sorted((f.customer_id, f.attempts) for f in failed) == [("drop", 2), ("slow", 2)]
            assert len(await emitted(service, MessageSentV1)) == 10
    assert sorted(str(m["To"]) for m in inbox.messages) == sorted(f"c{n}@example.com" for n in range(10))


async def test_a_customers_messages_due_together_see_each_other_through_the_ledger(
    make_outreach: OutreachFactory, smtp: tuple[MailInbox, int]
) -> None:
    async with make_outreach({"frequency_cap": {"messages": 1, "days": 7}}) as service:
        await consume(service, [registered(), code(), key_client(), promoter(), granted()])
        delivery = delivery_of(service)
        taken = []
        while tried := await delivery.deliver_due(service):
            taken.append(tried)
        await delivery.close()
        assert taken == [1, 1, 1], "one message of a customer a round"
        assert [(e.kind, e.reason) for e in await emitted(service, MessageSuppressedV1)] == [
            ("referral_ask", "frequency_cap")
        ]
        assert {e.kind for e in await emitted(service, MessageSentV1)} == {
            "key_client_welcome",
            "purchase_thank_you",
        }


@dataclass
class Held:
    """A transaction: which task held the writer lock, from when to when."""

    task: str
    start: float
    end: float


@asynccontextmanager
async def transactions_timed(service: Service) -> AsyncIterator[list[Held]]:
    """Every transaction of the service, timed from the lock taken to the commit."""
    held: list[Held] = []
    original = service.db.transaction

    @asynccontextmanager
    async def timed() -> AsyncIterator[AsyncSession]:
        task = asyncio.current_task()
        name = task.get_name() if task else "?"
        started: list[float] = []
        async with AsyncExitStack() as stack:
            stack.callback(lambda: held.append(Held(name, started[0], time.monotonic())) if started else None)
            session = await stack.enter_async_context(original())
            started.append(time.monotonic())
            yield session

    service.db.transaction = timed  # type: ignore[method-assign]
    try:
        yield held
    finally:
        service.db.transaction = original  # type: ignore[method-assign]


async def test_the_consume_path_goes_on_while_a_big_queue_is_mailed(make_outreach: OutreachFactory) -> None:
    mails = 200
    with TroubledInbox(delay=0.01) as inbox:
        async with make_outreach(smtp_port=inbox.port) as service:
            queued = [f"q{n}" for n in range(mails)]
            await consume(
                service, [e for c in queued for e in (registered(c), granted(c, reward_id=f"r-{c}"))]
            )
            delivery = delivery_of(service)
            me = asyncio.current_task()
            async with transactions_timed(service) as held:
                job = asyncio.create_task(delivery.run(service))  # its rounds' tasks: all but this one
                batches, deadline = 0, time.monotonic() + 120
                while len(inbox.arrived) < mails:  # sign-ups meanwhile (their welcomes wait 5 minutes)
                    assert time.monotonic() < deadline and not job.done()
                    await consume(service, [registered(f"new{batches}-{n}") for n in range(100)])
                    batches += 1
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)
    first, last = inbox.arrived[0], inbox.arrived[-1]
    assert me is not None
    consumed = [h for h in held if h.task == me.get_name()]
    delivering = [h for h in held if h.task != me.get_name()]
    assert len({str(m["X-Wom-Message-Id"]) for m in inbox.messages}) == mails
    assert sum(first <= h.start <= last for h in consumed) >= 2, "consume batches went on while mail flowed"
    longest_batch = max(h.end - h.start for h in consumed)
    longest_delivery = max(h.end - h.start for h in delivering)
    # both are wall-clock times on a shared machine: a round may take up to twice a batch
    assert longest_delivery <= 2 * longest_batch, (
        f"a delivery transaction held the writer lock {longest_delivery:.3f} s, more than twice a "
        f"consume batch of 100 events ({longest_batch:.3f} s)"
    )


class RefusingInbox(MailInbox):
    """Refuses every recipient the way a real relay does: quoting the address back."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"


async def test_a_refused_recipient_is_recorded_as_codes_without_the_address(
    make_outreach: OutreachFactory, capfd: Any
) -> None:
    """The relay's reply names the address; the message rows, outreach.message.failed.v1 and the
    logs keep its codes only (an erasure deletes the contact, not what was copied elsewhere)."""
    refused = "SMTPRecipientRefused: smtp 550 5.1.1 (permanent)"
    with RefusingInbox() as inbox:
        async with make_outreach(smtp_port=inbox.port) as service:
            await consume(service, [registered("gone"), granted("gone", reward_id="r-gone")])
            delivery = delivery_of(service)
            capfd.readouterr()
            for _ in range(8):  # a message a customer a round, each given up after its second attempt
                await delivery.deliver_due(service)
                async with service.db.transaction() as session:
                    await session.execute(update(Message).values(next_attempt_at=utcnow()))
            await delivery.close()
            async with service.db.session() as session:
                rows = (await session.execute(select(Message.status, Message.last_error))).all()
            failed = await emitted(service, MessageFailedV1)
    assert rows and set(rows) == {("failed", refused)}
    assert len(failed) == len(rows) and {event.error for event in failed} == {refused}
    logged = capfd.readouterr()
    assert "smtp 550 5.1.1" in logged.err  # the failures were logged, by their codes
    assert "gone@example.com" not in logged.out + logged.err
