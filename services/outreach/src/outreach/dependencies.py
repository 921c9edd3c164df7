"""What outreach's routes read beyond the chassis' `CurrentService` and `ReadSession`: what the
app was built with, which `outreach.app.create_app` puts on the app (`wom_chassis.provide`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from wom_chassis import UnitOfWork, from_app

from outreach.settings import OutreachSettings
from outreach.templates import Templates

__all__ = ["CurrentSettings", "CurrentTemplates", "CurrentUnsubscribe", "OnUnsubscribe"]

OnUnsubscribe = Callable[[UnitOfWork[None], str], Awaitable[bool]]
"""Withdraws a customer's marketing consent inside the unit of work; False when the contact is unknown."""

CurrentSettings = Annotated[OutreachSettings, from_app("settings")]
CurrentTemplates = Annotated[Templates, from_app("templates")]
"""The message templates the app renders with."""
CurrentUnsubscribe = Annotated[OnUnsubscribe, from_app("on_unsubscribe")]
"""What a confirmed unsubscribe calls."""
