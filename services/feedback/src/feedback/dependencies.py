"""What feedback's routes read beyond the chassis' `CurrentService` and `ReadSession`: what the
app was built with, which `feedback.app.create_app` puts on the app (`wom_chassis.provide`)."""

from __future__ import annotations

from typing import Annotated

from wom_chassis import from_app

from feedback.console.access import ConsoleAccess
from feedback.customers import EmailHasher
from feedback.rules import Rules
from feedback.settings import FeedbackSettings

__all__ = ["CurrentConsoleAccess", "CurrentEmailHash", "CurrentRules", "CurrentSettings"]

CurrentSettings = Annotated[FeedbackSettings, from_app("settings")]
CurrentRules = Annotated[Rules, from_app("rules")]
"""The rules file the app was built with."""
CurrentEmailHash = Annotated[EmailHasher, from_app("email_hash")]
"""The keyed hash customers are found by email with."""
CurrentConsoleAccess = Annotated[ConsoleAccess, from_app("console_access")]
"""The console's agents and session signer."""
