"""Escalation delivery to support teams (being built): a signed webhook and an email per queue."""

from __future__ import annotations

from typing import Literal

from wom_chassis import UnitOfWork

from feedback.models import Case
from feedback.rules import Rules

__all__ = ["schedule_escalation"]


async def schedule_escalation(
    uow: UnitOfWork, case: Case, what: Literal["opened", "breached"], rules: Rules
) -> None:
    """Queue the deliveries that tell the case's queue what happened (in this transaction)."""
