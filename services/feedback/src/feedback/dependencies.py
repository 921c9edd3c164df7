"""What feedback's routes need beyond the chassis' `CurrentService` and `ReadSession`: what the
app was built with, which `feedback.app.create_app` puts on the HTTP app's state (`provide`) and
a route declares as a dependency (`CurrentSettings`, `CurrentRules`, `CurrentConsoleAccess`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from feedback.console.access import ConsoleAccess
from feedback.rules import Rules
from feedback.settings import FeedbackSettings

__all__ = [
    "CurrentConsoleAccess",
    "CurrentRules",
    "CurrentSettings",
    "current_console_access",
    "current_rules",
    "current_settings",
    "provide",
]


def provide(app: FastAPI, *, settings: FeedbackSettings, rules: Rules, console: ConsoleAccess) -> None:
    """Put what the app was built with where the dependencies below read it."""
    app.state.settings, app.state.rules, app.state.console_access = settings, rules, console


def current_settings(request: Request) -> FeedbackSettings:
    """The settings the app was built with."""
    settings: FeedbackSettings = request.app.state.settings
    return settings


def current_rules(request: Request) -> Rules:
    """The rules file the app was built with."""
    rules: Rules = request.app.state.rules
    return rules


def current_console_access(request: Request) -> ConsoleAccess:
    """The console's agents and session signer."""
    console: ConsoleAccess = request.app.state.console_access
    return console


CurrentSettings = Annotated[FeedbackSettings, Depends(current_settings)]
CurrentRules = Annotated[Rules, Depends(current_rules)]
CurrentConsoleAccess = Annotated[ConsoleAccess, Depends(current_console_access)]
