"""Redemption: points or store credit into a coupon code, once per Idempotency-Key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import Service, new_id, upsert, utcnow
from wom_contracts import MEMBER, Money, RewardRedeemedV1

from rewards.domain.balances import POINTS, Balances, as_money
from rewards.domain.redemption import RedemptionRefused, coupon_code, coupon_value_of_points, refusal
from rewards.ledger import add_entry, balance_of, is_erased
from rewards.models import Coupon, Customer, Redemption
from rewards.rules import Rules

__all__ = ["Redeemed", "RedemptionRequest", "redeem"]


class RedemptionRequest(BaseModel):
    """Either `points` (with the coupon's `currency`) or store `credit` to turn into a coupon."""

    model_config = ConfigDict(extra="forbid")

    points: int | None = Field(default=None, gt=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    credit: Money | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RedemptionRequest:
        if (self.points is None) == (self.credit is None):
            raise ValueError("give either points (with currency) or credit")
        if self.points is not None and self.currency is None:
            raise ValueError("points need the currency of the coupon")
        if self.credit is not None and self.credit.amount <= 0:
            raise ValueError("credit must be more than zero")
        return self


@dataclass(frozen=True)
class Redeemed:
    """A redemption and whether this call made it (False: the same key was used before)."""

    redemption_id: str
    coupon_code: str
    coupon_value: Money
    expires_at: datetime
    created: bool


async def redeem(
    service: Service,
    customer_id: str,
    key: str,
    request: RedemptionRequest,
    *,
    rules: Rules,
    requested_by: str,
) -> Redeemed:
    """Redeem once per (customer, key); the same key with the same request returns the same
    coupon, with another request it is refused. Never overdraws. `requested_by` (the caller's
    credential) is recorded with the redemption."""
    for attempt in range(2):
        try:
            return await _redeem(service, customer_id, key, request, rules, requested_by)
        except IntegrityError:
            if attempt:  # a concurrent call with the same key won: answer with its coupon
                raise
    raise AssertionError("unreachable")


async def _redeem(
    service: Service, customer_id: str, key: str, request: RedemptionRequest, rules: Rules, requested_by: str
) -> Redeemed:
    canonical = request.model_dump_json(exclude_none=True)
    async with service.work() as uow:
        session = uow.session
        earlier = await _earlier_redemption(session, customer_id, key, canonical)
        if earlier is not None:
            return earlier
        if await is_erased(session, customer_id):
            raise RedemptionRefused("customer_erased", "this customer asked to be forgotten")
        now = utcnow()
        await _lock_customer(session, customer_id, now)
        balances = await balance_of(session, customer_id)
        unit, amount, currency, worth = _spending(request, balances, rules)
        redemption_id, code = new_id(), coupon_code(os.urandom(8))
        expires_at = now + timedelta(days=rules.redemption.coupon_valid_days)
        uow.insert(
            Coupon,
            code=code,
            customer_id=customer_id,
            amount=worth,
            currency=currency,
            source="redemption",
            valid_from=now,
            expires_at=expires_at,
            created_at=now,
        )
        add_entry(
            uow,
            customer_id=customer_id,
            kind="redeem",
            unit=unit,
            amount=-amount,
            status="available",
            reason="redeemed_for_coupon",
            once_key=f"redeem:{redemption_id}",
            coupon_code=code,
            released_at=now,
        )
        uow.insert(
            Redemption,
            id=redemption_id,
            customer_id=customer_id,
            idempotency_key=key,
            request=canonical,
            coupon_code=code,
            created_at=now,
            requested_by=requested_by,
        )
        balances.add(unit, "available", -amount)
        value = as_money(worth, currency)
        uow.emit(
            RewardRedeemedV1(
                customer_id=customer_id,
                redemption_id=redemption_id,
                points=request.points,
                credit=request.credit,
                coupon_code=code,
                coupon_value=value,
                balance=balances.to_event(),
                occurred_at=now,
            )
        )
        return Redeemed(redemption_id, code, value, expires_at, created=True)


async def _earlier_redemption(
    session: AsyncSession, customer_id: str, key: str, canonical: str
) -> Redeemed | None:
    """The redemption made earlier with this Idempotency-Key, if any; refused when that was
    another request."""
    earlier = await session.scalar(
        select(Redemption).where(Redemption.customer_id == customer_id, Redemption.idempotency_key == key)
    )
    if earlier is None:
        return None
    if earlier.request != canonical:
        raise RedemptionRefused("idempotency_key_reused", "this Idempotency-Key was used for another request")
    coupon = await session.get(Coupon, earlier.coupon_code)
    assert coupon is not None
    value = as_money(coupon.amount, coupon.currency)
    return Redeemed(earlier.id, coupon.code, value, coupon.expires_at, created=False)


async def _lock_customer(session: AsyncSession, customer_id: str, now: datetime) -> None:
    """One redemption per customer at a time: lock the customer's row (PostgreSQL; SQLite has
    one writer at a time anyway), made first if rewards keeps nothing of them yet."""
    await upsert(
        session,
        Customer,
        {"customer_id": customer_id, "tier": MEMBER, "updated_at": now},
        key=["customer_id"],
        update=[],
    )
    await session.execute(
        select(Customer.customer_id).where(Customer.customer_id == customer_id).with_for_update()
    )


def _spending(
    request: RedemptionRequest, balances: Balances, rules: Rules
) -> tuple[str, Decimal, str, Decimal]:
    """What the request spends (unit and amount) and the coupon it buys (currency and value);
    refused when the available balance does not cover it."""
    if request.points is not None:
        assert request.currency is not None
        unit, amount, currency = POINTS, Decimal(request.points), request.currency
        worth = coupon_value_of_points(request.points, currency, rules.redemption)
        refused = refusal(amount, Decimal(balances.points("available")), "points")
    else:
        assert request.credit is not None
        unit, amount, currency = request.credit.currency, request.credit.amount, request.credit.currency
        worth = amount
        refused = refusal(amount, Decimal(balances.totals.get((unit, "available"), 0)), unit)
    if refused is not None:
        raise refused
    return unit, amount, currency, worth
