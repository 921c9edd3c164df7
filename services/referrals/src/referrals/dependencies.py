"""What referrals' routes need beyond the chassis' `CurrentService` and `ReadSession`: the
programme the app was built with, which `referrals.app.create_app` puts on the HTTP app's state
(`provide`) and a route declares as a dependency (`CurrentProgramme`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from referrals.programme import Programme

__all__ = ["CurrentProgramme", "current_programme", "provide"]


def provide(app: FastAPI, *, programme: Programme) -> None:
    """Put what the app was built with where the dependencies below read it."""
    app.state.programme = programme


def current_programme(request: Request) -> Programme:
    """The programme (rules, settings, hashing key) the app was built with."""
    programme: Programme = request.app.state.programme
    return programme


CurrentProgramme = Annotated[Programme, Depends(current_programme)]
