"""HTTP endpoints of the rewards service: balances, ledger, tiers, key clients, redemption."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import Header, Response, status
from pydantic import BaseModel
from wom_chassis import CurrentCredential, CurrentService, IdPath, ReadSession, guarded_router, utcnow
from wom_chassis.api_errors import ApiError, error_responses, invalid
from wom_chassis.paging import Page, paging
from wom_contracts import Money, Scope

from rewards.dependencies import CurrentRules
from rewards.domain.balances import as_money, tidy
from rewards.domain.redemption import RedemptionRefused
from rewards.domain.tiers import position_of
from rewards.models import Coupon
from rewards.queries import customer_balance, key_clients, ledger_page, tier_standing
from rewards.redemptions import RedemptionRequest, redeem

__all__ = ["redemptions_router", "router"]


class PointsBalance(BaseModel):
    available: int
    pending: int


class CreditBalance(BaseModel):
    currency: str
    available: Decimal
    pending: Decimal


class CouponView(BaseModel):
    code: str
    value: Money
    source: str
    status: str
    valid_from: datetime
    expires_at: datetime


class BalanceView(BaseModel):
    """A customer's balances, summed from their ledger entries."""

    customer_id: str
    points: PointsBalance
    credit: list[CreditBalance]
    by_kind: dict[str, dict[str, Decimal]]
    coupons: list[CouponView]


class EntryView(BaseModel):
    id: str
    kind: str
    unit: str
    amount: Decimal
    status: str
    reason: str
    order_id: str | None
    refund_id: str | None
    referral_id: str | None
    case_id: str | None
    coupon_code: str | None
    hold_until: datetime | None
    expires_at: datetime | None
    created_at: datetime
    released_at: datetime | None


class LedgerView(BaseModel):
    """A page of a customer's ledger, newest first, each entry with its reason code."""

    customer_id: str
    entries: list[EntryView]
    total: int


class TierView(BaseModel):
    """A customer's tier and why: rank, percentile, revenue and the key-client line."""

    customer_id: str
    tier: str
    since: datetime | None
    trailing_revenue: Money
    trailing_days: int
    rank: int | None
    ranked_customers: int
    percentile: float | None
    threshold: Money | None
    top_percent: Decimal
    ranking_computed_at: datetime | None
    below_threshold_since: datetime | None
    grace_until: datetime | None
    orders: int
    repeat_buyer_min_orders: int


class KeyClientView(BaseModel):
    customer_id: str
    since: datetime | None
    trailing_revenue: Money


class KeyClientList(BaseModel):
    """The key clients, highest trailing revenue first."""

    key_clients: list[KeyClientView]
    total: int
    threshold: Money | None
    ranking_computed_at: datetime | None


class RedemptionView(BaseModel):
    redemption_id: str
    coupon_code: str
    coupon_value: Money
    expires_at: datetime


router = guarded_router(Scope.CUSTOMERS_READ)
"""Balances, ledgers, tiers and the key clients."""
redemptions_router = guarded_router(Scope.REDEMPTIONS_WRITE)
"""Redemptions: a coupon code handed to the caller, recorded under its credential."""


@router.get("/customers/{customer_id}/balance", tags=["ledger"])
async def get_balance(customer_id: IdPath, session: ReadSession) -> BalanceView:
    """Points (available, pending), store credit per currency, totals by kind, coupons."""
    found = await customer_balance(session, customer_id)
    balances = found.balances
    by_kind: dict[str, dict[str, Decimal]] = {}
    for row in found.by_kind:
        by_kind.setdefault(row.kind, {})[f"{row.unit}_{row.status}"] = tidy(row.total, row.unit)
    currencies = sorted({unit for unit, _ in balances.totals if len(unit) == 3})
    return BalanceView(
        customer_id=customer_id,
        points=PointsBalance(available=balances.points("available"), pending=balances.points("pending")),
        credit=[
            CreditBalance(
                currency=code,
                available=tidy(Decimal(balances.totals.get((code, "available"), 0)), code),
                pending=tidy(Decimal(balances.totals.get((code, "pending"), 0)), code),
            )
            for code in currencies
        ],
        by_kind=by_kind,
        coupons=[
            CouponView(
                code=coupon.code,
                value=as_money(coupon.amount, coupon.currency),
                source=coupon.source,
                status=_coupon_status(coupon, entry_status),
                valid_from=coupon.valid_from,
                expires_at=coupon.expires_at,
            )
            for coupon, entry_status in found.coupons
        ],
    )


@router.get("/customers/{customer_id}/ledger", tags=["ledger"])
async def get_ledger(
    customer_id: IdPath, page: Annotated[Page, paging(maximum=500)], session: ReadSession
) -> LedgerView:
    """The customer's ledger entries, newest first, with reason codes."""
    entries, total = await ledger_page(session, customer_id, page)
    views = [
        EntryView.model_validate(entry, from_attributes=True).model_copy(
            update={"amount": tidy(entry.amount, entry.unit)}
        )
        for entry in entries
    ]
    return LedgerView(customer_id=customer_id, entries=views, total=total)


@router.get("/customers/{customer_id}/tier", tags=["tiers"])
async def get_tier(customer_id: IdPath, session: ReadSession, rules: CurrentRules) -> TierView:
    """The customer's tier with its explanation."""
    now = utcnow()
    key_rules = rules.tiers.key_client
    currency = rules.reporting_currency
    standing = await tier_standing(session, customer_id, now, rules)
    customer, ranking = standing.customer, standing.ranking
    position = position_of(standing.revenue, standing.better, standing.ranked)
    below_since = customer.below_threshold_since if customer else None
    threshold = ranking.threshold if ranking else None
    return TierView(
        customer_id=customer_id,
        tier=customer.tier if customer else "member",
        since=customer.tier_since if customer else None,
        trailing_revenue=as_money(max(standing.revenue, Decimal(0)), currency),
        trailing_days=key_rules.trailing_days,
        rank=position.rank if position else None,
        ranked_customers=standing.ranked,
        percentile=position.percentile if position else None,
        threshold=None if threshold is None else as_money(threshold, currency),
        top_percent=key_rules.top_percent,
        ranking_computed_at=ranking.computed_at if ranking else None,
        below_threshold_since=below_since,
        grace_until=below_since + timedelta(days=key_rules.downgrade_grace_days) if below_since else None,
        orders=standing.orders,
        repeat_buyer_min_orders=rules.tiers.repeat_buyer.min_orders,
    )


@router.get("/key-clients", tags=["tiers"])
async def get_key_clients(
    page: Annotated[Page, paging(maximum=1000)], session: ReadSession, rules: CurrentRules
) -> KeyClientList:
    """Every current key client, highest trailing revenue first."""
    currency = rules.reporting_currency
    found = await key_clients(session, utcnow(), rules)
    threshold = found.ranking.threshold if found.ranking else None
    return KeyClientList(
        key_clients=[
            KeyClientView(
                customer_id=client.customer_id,
                since=client.since,
                trailing_revenue=as_money(max(client.revenue, Decimal(0)), currency),
            )
            for client in page.of(found.clients)
        ],
        total=len(found.clients),
        threshold=None if threshold is None else as_money(threshold, currency),
        ranking_computed_at=found.ranking.computed_at if found.ranking else None,
    )


@redemptions_router.post(
    "/customers/{customer_id}/redemptions",
    tags=["redemption"],
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "the same Idempotency-Key was used before: the same coupon"},
        **error_responses(
            400,
            409,
            s409="insufficient_balance, or idempotency_key_reused: the key was used for another request",
        ),
        422: {"description": "invalid request, currency not redeemable, below the minimum"},
    },
)
async def post_redemption(
    customer_id: IdPath,
    request: RedemptionRequest,
    response: Response,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=128)],
    service: CurrentService,
    rules: CurrentRules,
    caller: CurrentCredential,
) -> RedemptionView:
    """Turn points or store credit into a coupon code; the same Idempotency-Key always
    returns the same coupon, and an overdraw is refused."""
    try:
        done = await redeem(
            service, customer_id, idempotency_key, request, rules=rules, requested_by=caller.name
        )
    except RedemptionRefused as refused:
        if refused.code in ("insufficient_balance", "idempotency_key_reused"):
            raise ApiError(status.HTTP_409_CONFLICT, refused.detail, refused.code) from None
        raise invalid(("body",), refused.detail, refused.code) from None
    if not done.created:
        response.status_code = status.HTTP_200_OK
    return RedemptionView(
        redemption_id=done.redemption_id,
        coupon_code=done.coupon_code,
        coupon_value=done.coupon_value,
        expires_at=done.expires_at,
    )


def _coupon_status(coupon: Coupon, entry_status: str | None) -> str:
    if entry_status == "revoked":
        return "revoked"
    if entry_status == "pending":
        return "pending"
    return "expired" if coupon.expires_at <= utcnow() else "active"
