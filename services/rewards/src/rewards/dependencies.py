"""What rewards' routes need beyond the chassis' `CurrentService` and `ReadSession`: the rules the
app was built with, which `rewards.app.create_app` puts on the HTTP app's state (`provide`) and a
route declares as a dependency (`CurrentRules`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from rewards.rules import Rules

__all__ = ["CurrentRules", "current_rules", "provide"]


def provide(app: FastAPI, *, rules: Rules) -> None:
    """Put what the app was built with where the dependencies below read it."""
    app.state.rules = rules


def current_rules(request: Request) -> Rules:
    """The rules the app was built with."""
    rules: Rules = request.app.state.rules
    return rules


CurrentRules = Annotated[Rules, Depends(current_rules)]
