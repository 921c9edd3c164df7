"""HTTP endpoints of the rewards service: balances, ledger, tiers, key clients, redemption."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel
from sqlalchemy import func, select
from wom_chassis import IdPath, Service, guarded_router, utcnow
from wom_chassis.api_errors import ApiError, error_responses, invalid
from wom_chassis.paging import Page, paging
from wom_contracts import Money

from rewards.domain.balances import as_money, tidy
from rewards.domain.redemption import RedemptionRefused
from rewards.domain.tiers import KEY_CLIENT, position_of
from rewards.ledger import balance_of
from rewards.models import Coupon, Customer, LedgerEntry
from rewards.redemptions import RedemptionRequest, redeem
from rewards.rules import Rules
from rewards.tiering import latest_ranking, order_counts, trailing_revenues, trailing_standing

__all__ = ["build_api"]


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


def build_api(service: Service, rules: Rules) -> APIRouter:
    """The rewards API, every endpoint behind the service's bearer token."""
    api = guarded_router()
    db = service.db
    currency = rules.reporting_currency

    @api.get("/customers/{customer_id}/balance", tags=["ledger"])
    async def get_balance(customer_id: IdPath) -> BalanceView:
        """Points (available, pending), store credit per currency, totals by kind, coupons."""
        async with db.session() as session:
            balances = await balance_of(session, customer_id)
            by_kind_rows = await session.execute(
                select(LedgerEntry.kind, LedgerEntry.unit, LedgerEntry.status, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.customer_id == customer_id, LedgerEntry.unit != "coupon")
                .group_by(LedgerEntry.kind, LedgerEntry.unit, LedgerEntry.status)
            )
            coupons = (
                await session.execute(
                    select(Coupon, LedgerEntry.status)
                    .outerjoin(
                        LedgerEntry, (LedgerEntry.coupon_code == Coupon.code) & (LedgerEntry.amount > 0)
                    )
                    .where(Coupon.customer_id == customer_id)
                    .order_by(Coupon.created_at)
                )
            ).all()
        by_kind: dict[str, dict[str, Decimal]] = {}
        for kind, unit, entry_status, total in by_kind_rows.all():
            by_kind.setdefault(kind, {})[f"{unit}_{entry_status}"] = tidy(Decimal(total), unit)
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
                for coupon, entry_status in coupons
            ],
        )

    @api.get("/customers/{customer_id}/ledger", tags=["ledger"])
    async def get_ledger(customer_id: IdPath, page: Annotated[Page, paging(maximum=500)]) -> LedgerView:
        """The customer's ledger entries, newest first, with reason codes."""
        async with db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
            )
            entries = await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.customer_id == customer_id)
                .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            views = [
                EntryView.model_validate(entry, from_attributes=True).model_copy(
                    update={"amount": tidy(entry.amount, entry.unit)}
                )
                for entry in entries
            ]
        return LedgerView(customer_id=customer_id, entries=views, total=int(total or 0))

    @api.get("/customers/{customer_id}/tier", tags=["tiers"])
    async def get_tier(customer_id: IdPath) -> TierView:
        """The customer's tier with its explanation."""
        now = utcnow()
        key_rules = rules.tiers.key_client
        async with db.session() as session:
            customer = await session.get(Customer, customer_id)
            revenue = (await trailing_revenues(session, now, rules, [customer_id]))[customer_id]
            orders = (await order_counts(session, [customer_id]))[customer_id]
            ranking = await latest_ranking(session)
            better, ranked = await trailing_standing(session, now, rules, revenue)
        position = position_of(revenue, better, ranked)
        below_since = customer.below_threshold_since if customer else None
        threshold = ranking.threshold if ranking else None
        return TierView(
            customer_id=customer_id,
            tier=customer.tier if customer else "member",
            since=customer.tier_since if customer else None,
            trailing_revenue=as_money(max(revenue, Decimal(0)), currency),
            trailing_days=key_rules.trailing_days,
            rank=position.rank if position else None,
            ranked_customers=ranked,
            percentile=position.percentile if position else None,
            threshold=None if threshold is None else as_money(threshold, currency),
            top_percent=key_rules.top_percent,
            ranking_computed_at=ranking.computed_at if ranking else None,
            below_threshold_since=below_since,
            grace_until=below_since + timedelta(days=key_rules.downgrade_grace_days) if below_since else None,
            orders=orders,
            repeat_buyer_min_orders=rules.tiers.repeat_buyer.min_orders,
        )

    @api.get("/key-clients", tags=["tiers"])
    async def get_key_clients(page: Annotated[Page, paging(maximum=1000)]) -> KeyClientList:
        """Every current key client, highest trailing revenue first."""
        now = utcnow()
        async with db.session() as session:
            clients = (
                await session.execute(
                    select(Customer.customer_id, Customer.tier_since).where(Customer.tier == KEY_CLIENT)
                )
            ).all()
            revenues = await trailing_revenues(session, now, rules, [c.customer_id for c in clients])
            ranking = await latest_ranking(session)
        ordered = sorted(clients, key=lambda c: (-revenues[c.customer_id], c.customer_id))
        threshold = ranking.threshold if ranking else None
        return KeyClientList(
            key_clients=[
                KeyClientView(
                    customer_id=client.customer_id,
                    since=client.tier_since,
                    trailing_revenue=as_money(max(revenues[client.customer_id], Decimal(0)), currency),
                )
                for client in page.of(ordered)
            ],
            total=len(ordered),
            threshold=None if threshold is None else as_money(threshold, currency),
            ranking_computed_at=ranking.computed_at if ranking else None,
        )

    @api.post(
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
    ) -> RedemptionView:
        """Turn points or store credit into a coupon code; the same Idempotency-Key always
        returns the same coupon, and an overdraw is refused."""
        try:
            done = await redeem(service, customer_id, idempotency_key, request, rules=rules)
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

    return api


def _coupon_status(coupon: Coupon, entry_status: str | None) -> str:
    if entry_status == "revoked":
        return "revoked"
    if entry_status == "pending":
        return "pending"
    return "expired" if coupon.expires_at <= utcnow() else "active"
