"""Handlers of the feedback service: store answers (classification comes in its issue)."""

from __future__ import annotations

from sqlalchemy import delete
from wom_chassis import EventHandlers, UnitOfWork
from wom_contracts import CustomerErasedV1, ResponseSubmittedV1

from feedback.models import Response

__all__ = ["build_handlers", "on_customer_erased", "on_response_submitted"]


async def on_response_submitted(event: ResponseSubmittedV1, uow: UnitOfWork) -> None:
    """Store the answer (once per response id)."""
    await uow.session.merge(
        Response(
            response_id=event.response_id,
            customer_id=event.customer_id,
            order_id=event.order_id,
            kind=event.kind,
            score=event.score,
            comment=event.comment,
            locale=event.locale,
            channel=event.channel,
            submitted_at=event.submitted_at,
        )
    )


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork) -> None:
    """Forget the customer's answers."""
    await uow.session.execute(delete(Response).where(Response.customer_id == event.customer_id))


def build_handlers() -> EventHandlers:
    """The feedback handlers."""
    handlers = EventHandlers()
    handlers.on(ResponseSubmittedV1)(on_response_submitted)
    handlers.on(CustomerErasedV1)(on_customer_erased)
    return handlers
