"""The feedback rules file: priorities, SLAs, queues and escalation; typed, validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, StringConstraints, model_validator
from wom_chassis import RulesError, load_rules_file

__all__ = [
    "DEFAULT_RULES_FILE",
    "ClassificationRules",
    "EscalationRules",
    "PriorityRules",
    "Queue",
    "QueueMatch",
    "Rules",
    "RulesError",
    "Webhook",
    "load_rules",
]

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.default.yaml")

Priority = Literal["P1", "P2", "P3"]
PriorityName = Annotated[str, StringConstraints(pattern=r"^P[123]$")]
SurveyKind = Annotated[str, StringConstraints(pattern=r"^(nps|csat|review)$")]
QueueName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Signal = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,127}$")]


class _Strict(BaseModel):
    # a misspelt key in a rules file must be an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorityRules(_Strict):
    """A negative answer of a key client is `key_client`; a score at or below `severe_score` of
    its kind, or a comment with a negative signal, is `severe`; anything else `default`."""

    key_client: Priority = "P1"
    severe: Priority = "P2"
    default: Priority = "P3"
    severe_score: dict[SurveyKind, int] = Field(default_factory=lambda: {"nps": 3, "csat": 1, "review": 1})


class Webhook(_Strict):
    """Where a queue's escalations are posted, signed with the secret in the environment
    variable `secret_env` (HMAC-SHA256 of the body)."""

    url: HttpUrl
    secret_env: EnvName


class QueueMatch(_Strict):
    """A queue takes a case when every condition given holds (none given: every case)."""

    key_client: bool | None = None
    priorities: list[Priority] | None = None
    signals_any: list[Signal] | None = None
    kinds: list[Literal["nps", "csat", "review"]] | None = None


class Queue(_Strict):
    """A support team's queue: which cases it takes, and how its team hears of them."""

    name: QueueName
    when: QueueMatch = QueueMatch()
    webhook: Webhook | None = None
    email: EmailStr | None = None


class EscalationRules(_Strict):
    """Webhook deliveries: attempts and the first wait (doubling up to `max_backoff_seconds`)."""

    webhook_attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=30.0, gt=0)
    max_backoff_seconds: float = Field(default=1800.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)


class ClassificationRules(_Strict):
    """More negative phrases per language on top of the shipped lexicon (`signal: [phrases]`)."""

    extra_negative_phrases: dict[str, dict[Signal, list[str]]] = Field(default_factory=dict)


class Rules(_Strict):
    """Every rule of the feedback service."""

    sla_hours: dict[PriorityName, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"P1": 4.0, "P2": 24.0, "P3": 72.0}
    )
    priority: PriorityRules = PriorityRules()
    queues: list[Queue] = Field(min_length=1)
    escalation: EscalationRules = EscalationRules()
    classification: ClassificationRules = ClassificationRules()

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = {"P1", "P2", "P3"} - set(self.sla_hours)
        if missing:
            raise ValueError(f"sla_hours needs {', '.join(sorted(missing))}")
        names = [queue.name for queue in self.queues]
        if len(set(names)) != len(names):
            raise ValueError("queue names must be unique")
        if self.queues[-1].when != QueueMatch():
            raise ValueError(
                "the last queue must take every case (no `when`), so no case is left without one"
            )
        return self


def load_rules(path: Path = DEFAULT_RULES_FILE) -> Rules:
    """Read and validate a rules file."""
    return load_rules_file(path, Rules)
