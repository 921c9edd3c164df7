"""What referrals' routes read beyond the chassis' `CurrentService` and `ReadSession`: the
programme the app was built with, which `referrals.app.create_app` puts on the app
(`wom_chassis.provide`)."""

from __future__ import annotations

from typing import Annotated

from wom_chassis import from_app

from referrals.programme import Programme

__all__ = ["CurrentProgramme"]

CurrentProgramme = Annotated[Programme, from_app("programme")]
