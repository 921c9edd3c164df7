"""HTTP endpoints of the outreach service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from wom_chassis import Database, IdPath, ServiceSettings, guarded_router

from outreach.models import Message

__all__ = ["build_api"]


def build_api(settings: ServiceSettings, db: Database) -> APIRouter:
    """What was sent to a customer, behind the service's bearer token."""
    api = guarded_router(settings.api_token)

    @api.get("/customers/{customer_id}/messages", tags=["messages"])
    async def list_messages(customer_id: IdPath) -> dict[str, Any]:
        async with db.session() as session:
            messages = (
                await session.scalars(
                    select(Message).where(Message.customer_id == customer_id).order_by(Message.created_at)
                )
            ).all()
        return {
            "customer_id": customer_id,
            "messages": [
                {
                    "id": m.id,
                    "kind": m.kind,
                    "channel": m.channel,
                    "status": m.status,
                    "recipient": m.recipient,
                    "locale": m.locale,
                    "subject": m.subject,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "created_at": m.created_at,
                    "sent_at": m.sent_at,
                }
                for m in messages
            ],
        }

    return api
