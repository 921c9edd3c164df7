"""What outreach's routes need beyond the chassis' `CurrentService` and `ReadSession`: what the
app was built with, which `outreach.app.create_app` puts on the HTTP app's state (`provide`) and
a route declares as a dependency (`CurrentSettings`, `CurrentTemplates`, `CurrentUnsubscribe`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from wom_chassis import UnitOfWork

from outreach.settings import OutreachSettings
from outreach.templates import Templates

__all__ = [
    "CurrentSettings",
    "CurrentTemplates",
    "CurrentUnsubscribe",
    "OnUnsubscribe",
    "current_settings",
    "current_templates",
    "current_unsubscribe",
    "provide",
]

OnUnsubscribe = Callable[[UnitOfWork[None], str], Awaitable[bool]]
"""Withdraws a customer's marketing consent inside the unit of work; False when the contact is unknown."""


def provide(
    app: FastAPI, *, settings: OutreachSettings, templates: Templates, on_unsubscribe: OnUnsubscribe
) -> None:
    """Put what the app was built with where the dependencies below read it."""
    app.state.settings, app.state.templates, app.state.on_unsubscribe = settings, templates, on_unsubscribe


def current_settings(request: Request) -> OutreachSettings:
    """The settings the app was built with."""
    settings: OutreachSettings = request.app.state.settings
    return settings


def current_templates(request: Request) -> Templates:
    """The message templates the app renders with."""
    templates: Templates = request.app.state.templates
    return templates


def current_unsubscribe(request: Request) -> OnUnsubscribe:
    """What a confirmed unsubscribe calls."""
    on_unsubscribe: OnUnsubscribe = request.app.state.on_unsubscribe
    return on_unsubscribe


CurrentSettings = Annotated[OutreachSettings, Depends(current_settings)]
CurrentTemplates = Annotated[Templates, Depends(current_templates)]
CurrentUnsubscribe = Annotated[OnUnsubscribe, Depends(current_unsubscribe)]
