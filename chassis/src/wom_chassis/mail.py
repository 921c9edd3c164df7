"""Mail: SMTP settings for services that send email, and sending one message."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from wom_chassis.tracing import mail_span

__all__ = ["MailConnection", "MailSettings", "send_mail"]


class MailSettings(BaseSettings):
    """The SMTP relay (a mixin for the settings of services that send mail)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    mail_from: str = "wom <hello@wom.localhost>"


async def send_mail(settings: MailSettings, mail: EmailMessage) -> None:
    """Send `mail` through the configured relay on a connection of its own (see `MailConnection`)."""
    connection = MailConnection(settings)
    try:
        await connection.send(mail)
    finally:
        await connection.close()


class MailConnection:
    """One connection to the SMTP relay for several mails (a connection and its greeting cost
    more than a mail): opened for the first, reopened for the next after a failure (the failed
    mail alone raises), closed by `close`. Each mail is sent in a span of the current trace whose
    `traceparent` it carries as a header; `From` is filled in when missing."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None

    async def send(self, mail: EmailMessage) -> None:
        """Send `mail`; raise when the relay refuses it or cannot be reached."""
        settings = self.settings
        if mail["From"] is None:
            mail["From"] = settings.mail_from
        with mail_span(settings.smtp_host, settings.smtp_port) as trace_headers:
            for name, value in trace_headers.items():
                del mail[name]  # a retried mail carries the trace of this attempt only
                mail[name] = value
            try:
                if self.client is None or not self.client.is_connected:  # the relay may hang up
                    self.client = await self._connect()
                await self.client.send_message(mail)
            except Exception:
                await self.close()  # whatever state the failure left, the next mail starts afresh
                raise

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
        return client

    async def close(self) -> None:
        """Say goodbye to the relay (a connection already broken is just dropped)."""
        client, self.client = self.client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()
