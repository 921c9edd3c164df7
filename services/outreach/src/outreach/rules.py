"""The outreach rules file: frequency cap, quiet hours, delays and periods; typed, validated at
start-up, every error naming its key."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator
from wom_chassis import RulesError, load_rules_file

__all__ = [
    "DEFAULT_RULES_FILE",
    "FrequencyCap",
    "QuietHours",
    "Rules",
    "RulesError",
    "load_rules",
]

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.default.yaml")


class _Strict(BaseModel):
    # a misspelt key in a rules file must be an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrequencyCap(_Strict):
    """At most `messages` marketing messages per customer in any `days` days (all kinds together)."""

    messages: int = Field(default=3, ge=1)
    days: int = Field(default=7, ge=1)


class QuietHours(_Strict):
    """No message is sent between `start` and `end` in the customer's time zone (it waits for
    `end`); a window that crosses midnight (22:00–08:00) is fine."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    default_timezone: str = "UTC"
    transactional: bool = False

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class Rules(_Strict):
    """Every rule of the outreach service."""

    shop_name: str = Field(default="our shop", min_length=1, max_length=100)
    shop_url: HttpUrl = HttpUrl("http://127.0.0.1:8080/")
    frequency_cap: FrequencyCap = FrequencyCap()
    quiet_hours: QuietHours = QuietHours()
    welcome_delay_minutes: float = Field(default=5.0, ge=0)
    check_in_days: float = Field(default=7.0, ge=0)
    survey_url: str = Field(
        default="https://survey.example.com/s?customer={customer_id}&order={order_id}",
        description="the survey link of check-ins; {customer_id} and {order_id} are filled in",
    )
    survey_suppression_days: int = Field(default=30, ge=0)
    referral_ask_every_days: int = Field(default=90, ge=1)
    key_client_offer: dict[str, str] = Field(
        default_factory=lambda: {"en": "free express delivery on every order"},
        description="the exclusive offer of the key-client welcome, per language (en required)",
    )
    birthday_hour: int = Field(default=9, ge=0, le=23, description="local hour birthday notes go out")
    stale_after_hours: float = Field(
        default=48.0,
        gt=0,
        description="a message not sent this long after its time is dropped as stale (a replay of old "
        "events, a long outage) instead of arriving out of the blue",
    )

    @model_validator(mode="after")
    def _english_offer(self) -> Self:
        if "en" not in self.key_client_offer:
            raise ValueError("key_client_offer.en is required (the last fallback)")
        return self


def load_rules(path: Path = DEFAULT_RULES_FILE) -> Rules:
    """Read and validate a rules file."""
    return load_rules_file(path, Rules)
