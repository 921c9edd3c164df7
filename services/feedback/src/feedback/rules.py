"""The feedback rules file: priorities, SLAs, queues and escalation; typed, validated at start-up."""

from __future__ import annotations

from datetime import date, time
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)
from wom_chassis import RulesError, load_rules_file

from feedback.domain.calendar import BusinessCalendar, WallClock

__all__ = [
    "DEFAULT_RULES_FILE",
    "Calendar",
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
CalendarName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# "09:00-18:00", local wall-clock time; an end of 24:00 is midnight
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9]"
HoursRange = Annotated[str, StringConstraints(pattern=rf"^{_CLOCK}-({_CLOCK}|24:00)$")]


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


class Calendar(_Strict):
    """A team's working time: hours per weekday in a time zone, and holidays. The SLAs of the
    queues that name it count only this time."""

    time_zone: str
    hours: dict[Weekday, list[HoursRange]]
    holidays: list[date] = Field(default_factory=list, max_length=1000)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Chisinau)") from None
        return value

    @staticmethod
    def _span(text: str) -> tuple[time, time]:
        start, end = text.split("-")
        return time.fromisoformat(start), time(0) if end == "24:00" else time.fromisoformat(end)

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        for day, ranges in self.hours.items():
            spans = sorted(self._span(text) for text in ranges)
            for (start, end), text in zip(spans, sorted(ranges), strict=True):
                if end != time(0) and end <= start:
                    raise ValueError(f"hours of {day}: {text} ends before it starts")
            for (_, end), (start, _) in pairwise(spans):
                if end == time(0) or end > start:
                    raise ValueError(f"hours of {day}: {', '.join(ranges)} overlap")
        if not any(self.hours.values()):
            raise ValueError("a calendar needs working hours on at least one weekday")
        return self

    def business(self) -> BusinessCalendar:
        return BusinessCalendar(
            time_zone=ZoneInfo(self.time_zone),
            hours=tuple(tuple(sorted(self._span(t) for t in self.hours.get(day, []))) for day in WEEKDAYS),
            holidays=frozenset(self.holidays),
        )


class Queue(_Strict):
    """A support team's queue: which cases it takes, how its team hears of them, the calendar its
    SLAs count in (none: every hour) and where a breached case goes."""

    name: QueueName
    when: QueueMatch = QueueMatch()
    webhook: Webhook | None = None
    email: EmailStr | None = None
    calendar: CalendarName | None = None
    escalate_to: QueueName | None = None


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
    calendars: dict[CalendarName, Calendar] = Field(default_factory=dict)
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
        for queue in self.queues:
            if queue.calendar is not None and queue.calendar not in self.calendars:
                raise ValueError(f"queue {queue.name}: no calendar {queue.calendar!r} in calendars")
            if queue.escalate_to is not None and queue.escalate_to not in names:
                raise ValueError(f"queue {queue.name}: escalate_to {queue.escalate_to!r} is not a queue")
            if queue.escalate_to == queue.name:
                raise ValueError(f"queue {queue.name}: escalate_to names the queue itself")
        return self

    @cached_property
    def _clocks(self) -> dict[str, BusinessCalendar | WallClock]:
        calendars = {name: calendar.business() for name, calendar in self.calendars.items()}
        return {q.name: calendars[q.calendar] if q.calendar else WallClock() for q in self.queues}

    def clock(self, queue: str) -> BusinessCalendar | WallClock:
        """The time a queue's SLAs count: its calendar's working hours, or every hour. A queue
        no longer in the rules (a case opened under older rules) counts every hour."""
        return self._clocks.get(queue, WallClock())

    def queue(self, name: str) -> Queue | None:
        return next((queue for queue in self.queues if queue.name == name), None)


def load_rules(path: Path = DEFAULT_RULES_FILE) -> Rules:
    """Read and validate a rules file."""
    return load_rules_file(path, Rules)
