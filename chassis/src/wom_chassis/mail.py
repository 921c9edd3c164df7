"""Mail: SMTP settings for services that send email, and the pool of connections to the relay
that every mail goes out through (mails are composed by `wom_chassis.mime`)."""

from __future__ import annotations

import asyncio
from types import TracebackType

import aiosmtplib
from aiosmtplib.typing import SMTPStatus
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from wom_chassis.mime import Mail, MailComposer
from wom_chassis.tracing import mail_span

__all__ = ["MailPool", "MailSettings"]


class MailSettings(BaseSettings):
    """The SMTP relay (a mixin for the settings of services that send mail)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(
        default=15.0, gt=0, description="the longest wait for the relay: to connect, for each answer"
    )
    smtp_connections: int = Field(
        default=4, ge=1, le=64, description="connections to the relay that mails go out on concurrently"
    )
    mail_from: str = "wom <hello@wom.localhost>"
    mail_message_id_domain: str | None = Field(
        default=None,
        pattern=r"^[^\s@<>]+\.[^\s@<>]+$",
        description="the domain of every mail's Message-ID (the sending host's, say); "
        "by default the domain of MAIL_FROM",
    )

    def composer(self) -> MailComposer:
        """The composer of this sender's mails."""
        return MailComposer(self.mail_from, message_id_domain=self.mail_message_id_domain)


class MailPool:
    """Up to `smtp_connections` connections to the SMTP relay, shared by the mails sent through
    it concurrently (a connection and its greeting cost more than a mail). A connection is opened
    when a mail needs one and kept for the next; after a failure it is dropped, so the failed mail
    alone raises and the next one starts afresh; a relay that hangs holds up only the mail on that
    connection, for at most `smtp_timeout_seconds` an answer. `close` (or the end of `async with`)
    says goodbye on the idle connections. Each mail is sent in a span of the current trace, whose
    `traceparent` it carries as a header."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.smtp_connections)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, mail: Mail) -> None:
        """Send `mail` on an idle connection, or a new one (waiting while all are busy); raise
        when the relay refuses it or cannot be reached."""
        settings = self.settings
        async with self._slots:
            with mail_span(settings.smtp_host, settings.smtp_port) as trace_headers:
                # the trace of this attempt only: a retried mail is composed once, traced each time
                head = "".join(f"{name}: {value}\r\n" for name, value in trace_headers.items())
                client = self._idle.pop() if self._idle else None
                try:
                    if client is None or not client.is_connected:  # the relay may have hung up
                        client = await self._connect()
                    await _transaction(client, mail, head.encode() + mail.content)
                except BaseException:
                    if client is not None:
                        client.close()  # whatever state the failure left, the next mail starts afresh
                    raise
                self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        settings, password = self.settings, self.settings.smtp_password
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # connect says hello only for STARTTLS or a login
            await client.ehlo()
        return client

    async def close(self) -> None:
        """Say goodbye on every idle connection (one already broken is just dropped); mails sent
        later open new ones."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(client) for client in idle))

    async def __aenter__(self) -> MailPool:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()


async def _transaction(client: aiosmtplib.SMTP, mail: Mail, content: bytes) -> None:
    """One mail transaction (RFC 5321 §3.3): MAIL, RCPT for each recipient, DATA. `sendmail` does
    the same, but parses every address twice more and scans the message once more for its size;
    the composer has checked the addresses, and SIZE is optional for a client."""
    if mail.smtputf8 and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("an address is not ASCII and the relay does not take SMTPUTF8")
    encoding = "utf-8" if mail.smtputf8 else "ascii"
    options = [b"SMTPUTF8"] if mail.smtputf8 else []
    sender = b"FROM:<" + mail.sender.encode(encoding) + b">"
    response = await client.execute_command(b"MAIL", sender, *options)
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, mail.sender)
    for recipient in mail.recipients:
        response = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode(encoding) + b">")
        if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
            raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)
    await client.data(content)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        client.close()
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
