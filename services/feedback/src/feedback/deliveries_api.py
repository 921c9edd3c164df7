"""HTTP endpoints of the delivery log: what support teams were sent about a case, and the
deliveries that are pending, delivered or dead (behind the service's API token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from wom_chassis import IdPath, ReadSession, guarded_router
from wom_chassis.api_errors import ApiError, error_responses
from wom_contracts import Scope

from feedback.deliveries import Delivery
from feedback.models import Case

__all__ = ["DeliveryView", "router"]


class DeliveryView(BaseModel):
    """One delivery as the log shows it: where it went, what it carried, how it went."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    queue: str
    channel: str
    what: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


router = guarded_router(Scope.OPS_READ)
"""The delivery log's endpoints."""


@router.get("/cases/{case_id}/deliveries", tags=["deliveries"], responses=error_responses(404))
async def case_deliveries(case_id: IdPath, session: ReadSession) -> list[DeliveryView]:
    """Every delivery about one case, oldest first."""
    rows = (
        await session.scalars(
            select(Delivery)
            .where(Delivery.case_id == case_id)
            .order_by(Delivery.created_at, Delivery.channel)
        )
    ).all()
    if not rows and await session.get(Case, case_id) is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"no case {case_id}", "no_case")
    return [DeliveryView.model_validate(row) for row in rows]


@router.get("/deliveries", tags=["deliveries"])
async def deliveries(
    session: ReadSession,
    status_: Annotated[Literal["pending", "delivered", "dead"] | None, Query(alias="status")] = None,
    queue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryView]:
    """The delivery log, newest first: `?status=dead` lists what support teams never got."""
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id).limit(limit)
    if status_ is not None:
        query = query.where(Delivery.status == status_)
    if queue is not None:
        query = query.where(Delivery.queue == queue)
    rows = (await session.scalars(query)).all()
    return [DeliveryView.model_validate(row) for row in rows]
