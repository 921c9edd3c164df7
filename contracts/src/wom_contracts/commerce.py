"""Inbound events published by upstream commerce systems (the product's public interface)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from wom_contracts.base import Event
from wom_contracts.types import Id, IpAddress, Locale, Money, ReferralCode, Timezone, UtcDatetime

__all__ = [
    "CustomerErasedV1",
    "CustomerRegisteredV1",
    "OrderCompletedV1",
    "OrderItem",
    "OrderRefundedV1",
]

MAX_ORDER_ITEMS = 1_000
"""The most lines an order carries: every list of the contracts is bounded, so that one record
cannot hold a consumer's loop for long (1,000 lines validate in a few milliseconds)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[EmailStr, Field(max_length=254)]
"""An address as RFC 5321 bounds it (the validator refuses longer ones; the schema says so)."""


class CustomerRegisteredV1(Event):
    """A customer signed up, possibly with a referral code."""

    event_type = "commerce.customer.registered.v1"

    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    locale: Locale = "en"
    timezone: Timezone | None = None
    birthday: date | None = None
    registered_at: UtcDatetime
    referral_code: ReferralCode | None = None
    marketing_consent: bool = False
    ip_address: IpAddress | None = None
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class OrderItem(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Money


class OrderCompletedV1(Event):
    """An order was paid and completed."""

    event_type = "commerce.order.completed.v1"

    order_id: Id
    total: Money
    items: list[OrderItem] | None = Field(default=None, max_length=MAX_ORDER_ITEMS)
    completed_at: UtcDatetime
    referral_code: ReferralCode | None = None
    payment_fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    channel: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class OrderRefundedV1(Event):
    """An order was refunded, fully or in part."""

    event_type = "commerce.order.refunded.v1"

    refund_id: Id
    order_id: Id
    amount: Money
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    refunded_at: UtcDatetime


class CustomerErasedV1(Event):
    """The customer asked to be forgotten: every service deletes or anonymises their data."""

    event_type = "commerce.customer.erased.v1"

    requested_at: UtcDatetime
