"""Field types every event uses: ids, money, times, locales."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyAddress,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

__all__ = [
    "TIMEZONES",
    "Id",
    "IpAddress",
    "Locale",
    "Money",
    "ReasonCode",
    "ReferralCode",
    "Timezone",
    "UtcDatetime",
]

# Every string of the contracts declares its maximum length, also where a pattern already bounds
# it: a JSON Schema reader (a publisher's validator, a form, a column) sees the bound without
# reading the pattern, and pydantic-core refuses an oversize value before it runs the pattern.

Id = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""An opaque id: 1–64 of A-Z a-z 0-9 _ . : -"""

ReasonCode = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A stable snake_case reason code that support teams and customers can be shown."""

ReferralCode = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A referral code as customers type and share it."""

Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]
"""A BCP 47 language tag such as `en`, `ro-MD` or `sv-SE`."""


MAX_IP_ADDRESS = 64
"""The longest IP address in text: 45 characters for IPv6 with an IPv4 tail, the rest for a
zone id (`fe80::1%eth0`), which the address parser otherwise takes at any length."""


def _short_address(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_IP_ADDRESS:
        raise ValueError(f"an IP address has at most {MAX_IP_ADDRESS} characters")
    return value


IpAddress = Annotated[
    IPvAnyAddress,
    BeforeValidator(_short_address),
    WithJsonSchema({"type": "string", "format": "ipvanyaddress", "maxLength": MAX_IP_ADDRESS}),
]
"""An IPv4 or IPv6 address."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware time, normalised to UTC (RFC 3339 in JSON)."""

TIMEZONES: tuple[str, ...] = tuple(sorted(files("tzdata").joinpath("zones").read_text().split()))
"""The IANA time zone names of the pinned tzdata release, not the machine's: a machine's own list
differs (Debian's adds `localtime`), and the committed schemas list exactly these."""
_TIMEZONE_SET = frozenset(TIMEZONES)


def _known_timezone(value: str) -> str:
    if value not in _TIMEZONE_SET:
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


Timezone = Annotated[
    str,
    AfterValidator(_known_timezone),
    WithJsonSchema({"type": "string", "enum": list(TIMEZONES), "description": "an IANA time zone name"}),
]
"""An IANA time zone name such as `Europe/Chisinau`, one of `TIMEZONES`."""


def _not_a_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError('amount must be a decimal string such as "12.50", never a float')
    return value


AMOUNT_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"


class Money(BaseModel):
    """An amount in a currency: a decimal string in JSON, never a float."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    amount: Annotated[
        Decimal,
        BeforeValidator(_not_a_float),
        # finiteness checked by pydantic-core itself: no Python call per amount
        Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
        PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": AMOUNT_PATTERN,
                "maxLength": 19,
                "description": "a non-negative decimal, at most 4 decimal places",
            }
        ),
    ]
    currency: Annotated[str, StringConstraints(max_length=3, pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code"
    )
