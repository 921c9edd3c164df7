"""A customer and a referral as the consume path holds them: plain rows, read and written with
the batch (`BatchView`), not ORM objects (the API and the jobs use the models)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

__all__ = ["REFERRAL_COLUMNS", "CustomerRow", "Parked", "ReferralRow"]


@dataclass(slots=True)
class CustomerRow:
    """A `customers` row: a registered customer as the fraud rules need them."""

    customer_id: str
    registered_at: datetime
    locale: str
    email_hash: str | None
    disposable_email: bool
    ip_hash: str | None
    device_hash: str | None
    signup_code: str | None

    def values(self) -> dict[str, Any]:
        """The row's columns and values."""
        return {name: getattr(self, name) for name in CustomerRow.__slots__}


@dataclass(slots=True)
class ReferralRow:
    """A `referrals` row (see `models.Referral` for what each column means)."""

    referral_id: str
    friend_id: str
    advocate_id: str
    standing_for: str | None
    code: str
    source: str
    attributed_at: datetime
    attributing_order_id: str | None
    status: str
    order_id: str | None = None
    order_amount: Decimal | None = None
    order_currency: str | None = None
    order_completed_at: datetime | None = None
    risk_score: int | None = None
    signals: list[dict[str, Any]] | None = None
    reason: str | None = None
    detail: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None
    hold_until: datetime | None = None
    reversed_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The row's columns and values."""
        return {name: getattr(self, name) for name in REFERRAL_COLUMNS}


REFERRAL_COLUMNS: tuple[str, ...] = ReferralRow.__slots__


@dataclass(frozen=True)
class Parked:
    """A registration or an order that used a code before the code was issued."""

    friend_id: str
    source: Literal["registration", "checkout"]
    at: datetime
    order_id: str | None

    @property
    def key(self) -> tuple[datetime, int, str, str]:
        """Parked uses are applied oldest first (a registration before an order at one time)."""
        return self.at, self.source == "checkout", self.order_id or "", self.friend_id
