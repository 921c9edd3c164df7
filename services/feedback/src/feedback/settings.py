"""Settings of the feedback service; the business rules live in the rules file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from wom_chassis import ServiceSettings
from wom_chassis.mail import MailSettings
from wom_chassis.settings import batch_size_field

from feedback.rules import DEFAULT_RULES_FILE

__all__ = ["DEV_SESSION_SECRET", "FeedbackSettings"]

DEV_SESSION_SECRET = "wom-dev-only-console-key"


class FeedbackSettings(ServiceSettings, MailSettings):
    """Feedback settings: rules, the console's agents and keys, the intake signature, the jobs."""

    # its handlers take some 10 ms an event: 100 keeps a transaction near a second
    consume_batch_size: int = batch_size_field(100)

    service_name: str = "feedback"
    http_port: int = 8004
    feedback_rules_file: Path = Field(
        default=DEFAULT_RULES_FILE, description="the YAML rules file (SLAs, priorities, queues, escalation)"
    )
    feedback_agents_file: Path | None = Field(
        default=None, description="YAML list of console agents with hashed passwords; none: no login"
    )
    feedback_session_secret: SecretStr = Field(
        default=SecretStr(DEV_SESSION_SECRET), description="signs console sessions and CSRF tokens"
    )
    feedback_intake_secret: SecretStr | None = Field(
        default=None, description="shared secret of survey tools that sign intake requests"
    )
    breach_every_seconds: float = Field(
        default=60.0, gt=0, description="how often SLA breaches are looked for"
    )
    delivery_every_seconds: float = Field(
        default=5.0, gt=0, description="how often escalations are delivered"
    )
