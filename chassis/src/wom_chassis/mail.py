"""Mail: SMTP settings for services that send email, and sending one message."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from wom_chassis.tracing import mail_span

__all__ = ["MailSettings", "send_mail"]


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
    """Send `mail` through the configured relay (`From` is filled in when missing), in a span of
    the current trace whose `traceparent` the mail carries as a header."""
    if mail["From"] is None:
        mail["From"] = settings.mail_from
    password = settings.smtp_password
    with mail_span(settings.smtp_host, settings.smtp_port) as trace_headers:
        for name, value in trace_headers.items():
            del mail[name]  # a retried mail carries the trace of this attempt only
            mail[name] = value
        await aiosmtplib.send(
            mail,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
