"""Settings of the outreach service."""

from __future__ import annotations

from pydantic import Field, SecretStr
from wom_chassis import ServiceSettings

__all__ = ["OutreachSettings"]


class OutreachSettings(ServiceSettings):
    """Outreach settings: the SMTP relay and the delivery loop."""

    service_name: str = "outreach"
    http_port: int = 8003
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    mail_from: str = "wom <hello@wom.localhost>"
    default_locale: str = "en"
    delivery_interval_seconds: float = Field(default=0.5, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_retry_seconds: float = Field(default=5.0, gt=0)
