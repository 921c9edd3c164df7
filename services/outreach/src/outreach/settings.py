"""Settings of the outreach service."""

from __future__ import annotations

from pydantic import Field
from wom_chassis import ServiceSettings
from wom_chassis.mail import MailSettings

__all__ = ["OutreachSettings"]


class OutreachSettings(ServiceSettings, MailSettings):
    """Outreach settings: the SMTP relay and the delivery loop."""

    service_name: str = "outreach"
    http_port: int = 8003
    default_locale: str = "en"
    delivery_interval_seconds: float = Field(default=0.5, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_retry_seconds: float = Field(default=5.0, gt=0)
