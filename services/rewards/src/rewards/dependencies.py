"""What rewards' routes read beyond the chassis' `CurrentService` and `ReadSession`: the rules
the app was built with, which `rewards.app.create_app` puts on the app (`wom_chassis.provide`)."""

from __future__ import annotations

from typing import Annotated

from wom_chassis import from_app

from rewards.rules import Rules

__all__ = ["CurrentRules"]

CurrentRules = Annotated[Rules, from_app("rules")]
