"""HTTP endpoints of the outreach service, behind its API token: a customer's contact and message
history, and the preview of any message kind in any locale with sample data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, status
from jinja2 import TemplateError
from pydantic import BaseModel
from wom_chassis import IdPath, ReadSession, guarded_router
from wom_chassis.api_errors import ApiError, error_responses, invalid
from wom_contracts import Scope

from outreach.dependencies import CurrentTemplates
from outreach.kinds import KINDS, sample_context
from outreach.models import Contact
from outreach.queries import customer_history

__all__ = ["router", "templates_router"]

Locale = Annotated[str, Query(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]


class MessageView(BaseModel):
    id: str
    kind: str
    message_class: str
    channel: str
    status: str
    reason: str | None
    recipient: str | None
    locale: str | None
    subject: str | None
    attempts: int
    last_error: str | None
    due_at: datetime | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


class History(BaseModel):
    """What outreach sent, scheduled or suppressed for a customer, oldest first."""

    customer_id: str
    contact: dict[str, Any] | None
    messages: list[MessageView]


class Preview(BaseModel):
    kind: str
    message_class: str
    locale: str
    subject: str
    text: str
    html: str


router = guarded_router(Scope.CUSTOMERS_READ)
"""A customer's contact and messages."""
templates_router = guarded_router(Scope.OPS_READ)
"""Template previews, with sample data."""


@router.get("/customers/{customer_id}/messages", tags=["messages"])
async def history(customer_id: IdPath, session: ReadSession) -> History:
    found = await customer_history(session, customer_id)
    profile = None
    if found.contact is not None:
        profile = {column.name: getattr(found.contact, column.name) for column in Contact.__table__.columns}
        profile["stage"] = found.contact.stage
    return History(
        customer_id=customer_id,
        contact=profile,
        messages=[MessageView.model_validate(m, from_attributes=True) for m in found.messages],
    )


@templates_router.get("/preview/{kind}", tags=["templates"], responses=error_responses(404))
async def preview(kind: str, templates: CurrentTemplates, locale: Locale = "en") -> Preview:
    """Render `kind` in `locale` (with its fallbacks) with sample data."""
    if kind not in KINDS:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            f"no message kind {kind!r}; kinds: {', '.join(sorted(KINDS))}",
            "no_message_kind",
        )
    try:
        rendered = templates.render(kind, locale, sample_context(kind))
    except TemplateError as error:  # the sandbox refused it, or a variable is missing
        raise invalid(
            ("path", "kind"),
            f"the template of {kind!r} cannot be rendered: {type(error).__name__}: {error}",
            "template_not_renderable",
        ) from None
    return Preview(
        kind=kind,
        message_class=KINDS[kind].message_class,
        locale=rendered.locale,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )
