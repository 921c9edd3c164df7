"""Settings of the rewards service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from wom_chassis import ServiceSettings

from rewards.rules import DEFAULT_RULES_FILE

__all__ = ["RewardsSettings"]


class RewardsSettings(ServiceSettings):
    """Rewards settings; the business rules live in the rules file (`REWARDS_RULES_FILE`)."""

    service_name: str = "rewards"
    http_port: int = 8002
    rewards_rules_file: Path = Field(
        default=DEFAULT_RULES_FILE, description="the YAML rules file (earning, referrals, tiers, budgets)"
    )
    release_every_seconds: float = Field(
        default=60.0, gt=0, description="how often held rewards are released"
    )
    expiry_every_seconds: float = Field(
        default=3600.0, gt=0, description="how often points expire and warnings go out"
    )
    birthday_every_seconds: float = Field(
        default=3600.0, gt=0, description="how often birthdays are looked for"
    )
