"""Settings of the outreach service; the messaging rules live in the rules file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from wom_chassis import ServiceSettings
from wom_chassis.mail import MailSettings
from wom_chassis.settings import HttpUrlSetting, batch_size_field

from outreach.rules import DEFAULT_RULES_FILE

__all__ = ["DEV_UNSUBSCRIBE_SECRET", "OutreachSettings"]

DEV_UNSUBSCRIBE_SECRET = "wom-dev-only-unsubscribe-key"


class OutreachSettings(ServiceSettings, MailSettings):
    """Outreach settings: the SMTP relay, the webhook channel, unsubscribe links, the loops."""

    # its handlers take some 10 ms an event: 100 keeps a transaction near a second
    consume_batch_size: int = batch_size_field(100)

    service_name: str = "outreach"
    http_port: int = 8003
    outreach_rules_file: Path = Field(
        default=DEFAULT_RULES_FILE, description="the YAML rules file (cap, quiet hours, delays, offers)"
    )
    outreach_public_url: HttpUrlSetting = Field(
        default="http://127.0.0.1:8003",
        description="the public base URL of this service: unsubscribe links are <it>/unsubscribe/<token>",
    )
    outreach_unsubscribe_secret: SecretStr = Field(
        default=SecretStr(DEV_UNSUBSCRIBE_SECRET),
        description="signs unsubscribe tokens; set a long random secret",
    )
    outreach_webhook_url: HttpUrlSetting | None = Field(
        default=None,
        description="an SMS or chat provider's endpoint; messages of the kinds listed go there too",
    )
    outreach_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key of the webhook channel's signature"
    )
    outreach_webhook_kinds: list[str] = Field(default_factory=list, description="kinds also sent by webhook")
    default_locale: str = "en"
    delivery_every_seconds: float = Field(default=0.5, gt=0)
    delivery_round_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="due messages a delivery round admits in one transaction (it holds the writer lock)",
    )
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_retry_seconds: float = Field(default=5.0, gt=0)
    schedule_every_seconds: float = Field(
        default=3600.0, gt=0, description="how often birthdays and anniversaries are planned (a day ahead)"
    )
