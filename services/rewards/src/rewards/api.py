"""HTTP endpoints of the rewards service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from wom_chassis import Database, IdPath, guarded_router
from wom_chassis.settings import ServiceSettings

from rewards.ledger import balance
from rewards.models import LedgerEntry

__all__ = ["build_api"]


def build_api(settings: ServiceSettings, db: Database) -> APIRouter:
    """Balance and ledger of a customer, behind the service's bearer token."""
    api = guarded_router(settings.api_token)

    @api.get("/customers/{customer_id}/balance", tags=["ledger"])
    async def get_balance(customer_id: IdPath) -> dict[str, Any]:
        async with db.session() as session:
            totals = await balance(session, customer_id)
        return {"customer_id": customer_id, "points": totals}

    @api.get("/customers/{customer_id}/ledger", tags=["ledger"])
    async def get_ledger(customer_id: IdPath) -> dict[str, Any]:
        async with db.session() as session:
            entries = (
                await session.scalars(
                    select(LedgerEntry)
                    .where(LedgerEntry.customer_id == customer_id)
                    .order_by(LedgerEntry.created_at)
                )
            ).all()
        return {
            "customer_id": customer_id,
            "entries": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "points": e.points,
                    "status": e.status,
                    "reason": e.reason,
                    "order_id": e.order_id,
                    "hold_until": e.hold_until,
                    "created_at": e.created_at,
                }
                for e in entries
            ],
        }

    return api
