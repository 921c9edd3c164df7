"""Settings of the feedback service; the business rules live in the rules file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from wom_chassis import ServiceSettings
from wom_chassis.mail import MailSettings
from wom_chassis.settings import batch_size_field

from feedback.rules import DEFAULT_RULES_FILE

__all__ = ["DEV_SEARCH_SECRET", "DEV_SESSION_SECRET", "FeedbackSettings"]

DEV_SESSION_SECRET = "wom-dev-only-console-key"
DEV_SEARCH_SECRET = "wom-dev-only-customer-search-key"


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
    feedback_search_secret: SecretStr = Field(
        default=SecretStr(DEV_SEARCH_SECRET),
        description="keys the hashes of customers' email addresses the console's search finds them by",
    )
    feedback_console_session_hours: float = Field(
        default=8.0, gt=0, le=24, description="a console session ends this long after the login"
    )
    feedback_console_idle_minutes: float = Field(
        default=30.0, gt=0, description="... or this long after the agent's last page"
    )
    feedback_login_free_attempts: int = Field(
        default=5, ge=1, description="wrong passwords for one login before each next one waits"
    )
    feedback_login_free_attempts_per_address: int = Field(
        default=20, ge=1, description="wrong passwords from one client address before it waits"
    )
    feedback_login_first_wait_seconds: float = Field(
        default=1.0, gt=0, description="the wait after the last free attempt; it doubles with every failure"
    )
    feedback_login_max_wait_seconds: float = Field(default=900.0, gt=0, description="the longest wait")
    feedback_password_checks: int = Field(
        default=2,
        ge=1,
        le=16,
        description="password checks at once (16 MiB of memory each); more waiting than twice "
        "this are answered 503 with Retry-After",
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
