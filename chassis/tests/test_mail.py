"""The pool of SMTP connections against a real SMTP server: mails go out concurrently over a
bounded number of connections, each kept for the next mail, and a connection that hangs, drops
or refuses fails its own mail and nothing else."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from wom_chassis.mail import MailPool, MailSettings
from wom_chassis.mime import Mail, MailComposer
from wom_testkit import free_port

COMPOSER = MailComposer("wom <hello@wom.localhost>")


@dataclass
class Relay:
    """An SMTP server that keeps each mail with the connection it came on and when; mail to
    `slow@` is never answered, to `drop@` loses its connection, to `nobody@` is refused."""

    received: list[tuple[Any, bytes, float]] = field(default_factory=list)
    quits: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient.startswith("slow@"):
            await asyncio.sleep(3600)  # hangs on purpose: the client's timeout ends it
        if recipient.startswith("drop@"):
            server.transport.close()
            return "421 gone"
        self.received.append((session.peer, envelope.content, time.monotonic()))
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    @property
    def connections(self) -> int:
        return len({peer for peer, _, _ in self.received})


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler, port = Relay(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def settings(port: int, **overrides: Any) -> MailSettings:
    return MailSettings(**({"smtp_port": port, "smtp_timeout_seconds": 5.0} | overrides))


def mail(to: str = "anna@example.com", n: int = 0) -> Mail:
    return COMPOSER.compose(to, f"mail {n}", f"body {n}\n", f"<p>body {n}</p>", idstring=f"m-{n}")


async def test_mails_go_out_concurrently_over_at_most_the_connections_configured(
    relay: tuple[Relay, int],
) -> None:
    received, port = relay
    async with MailPool(settings(port, smtp_connections=3)) as pool:
        await asyncio.gather(*(pool.send(mail(n=n)) for n in range(30)))
        assert len(received.received) == 30 and received.connections == 3
        for n in range(30, 35):  # one after the other: on a connection already open
            await pool.send(mail(n=n))
        assert received.connections == 3
    assert received.quits == 3, "each connection said goodbye at the end"
    subjects = {
        email.message_from_bytes(content, policy=email.policy.default)["Subject"]
        for _, content, _ in received.received
    }
    assert subjects == {f"mail {n}" for n in range(35)}


async def test_a_hanging_connection_holds_up_only_its_own_mail(relay: tuple[Relay, int]) -> None:
    received, port = relay
    timeout = 1.0
    async with MailPool(settings(port, smtp_connections=2, smtp_timeout_seconds=timeout)) as pool:
        started = time.monotonic()
        hung = asyncio.create_task(pool.send(mail("slow@example.com")))
        await asyncio.sleep(0)  # the hanging mail takes its connection first
        others = await asyncio.gather(*(pool.send(mail(n=n)) for n in range(20)))
        others_done = time.monotonic()
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await hung
        hung_done = time.monotonic()
        assert len(others) == len(received.received) == 20
        assert others_done < started + timeout < hung_done, "the others did not wait for the hung one"
        assert hung_done - started < timeout + 5, "the hung mail failed after the timeout"
        await asyncio.gather(*(pool.send(mail(n=n)) for n in range(20, 24)))  # a new connection
    assert len(received.received) == 24


async def test_a_refused_or_lost_mail_fails_alone_and_the_next_starts_afresh(
    relay: tuple[Relay, int],
) -> None:
    received, port = relay
    async with MailPool(settings(port, smtp_connections=1)) as pool:
        await pool.send(mail(n=1))
        with pytest.raises(aiosmtplib.SMTPRecipientRefused, match="no such mailbox"):
            await pool.send(mail("nobody@example.com"))
        await pool.send(mail(n=2))
        with pytest.raises(aiosmtplib.SMTPException):
            await pool.send(mail("drop@example.com"))
        await pool.send(mail(n=3))
    assert [content.count(b"body ") for _, content, _ in received.received] == [2, 2, 2]
    assert received.connections == 3, "a connection is not used again after a failure"


async def test_a_relay_that_goes_away_and_comes_back() -> None:
    received, port = Relay(), free_port()
    async with MailPool(settings(port)) as pool:
        with pytest.raises(aiosmtplib.SMTPConnectError):
            await pool.send(mail())
        controller = Controller(received, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            await pool.send(mail(n=1))
            controller.stop()
            with pytest.raises((aiosmtplib.SMTPException, OSError)):
                await pool.send(mail(n=2))
            controller = Controller(received, hostname="127.0.0.1", port=port)
            controller.start()
            await pool.send(mail(n=3))
        finally:
            controller.stop()
    assert len(received.received) == 2


@pytest.mark.parametrize("smtputf8", [True, False])
async def test_an_address_beyond_ascii_needs_a_relay_that_takes_smtputf8(smtputf8: bool) -> None:
    received, port = Relay(), free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        async with MailPool(settings(port)) as pool:
            if smtputf8:
                await pool.send(mail("åsa@exempel.se"))
            else:
                with pytest.raises(aiosmtplib.SMTPNotSupported):
                    await pool.send(mail("åsa@exempel.se"))
            await pool.send(mail())
    finally:
        controller.stop()
    assert len(received.received) == (2 if smtputf8 else 1)
    if smtputf8:
        first = email.message_from_bytes(received.received[0][1], policy=email.policy.default)
        assert first["To"] == "åsa@exempel.se"
