"""Scheduled jobs of the feedback service."""

from __future__ import annotations

from wom_chassis import Service

from feedback.cases import mark_breaches
from feedback.rules import Rules

__all__ = ["check_breaches"]


async def check_breaches(service: Service, *, rules: Rules) -> int:
    """Mark, announce and escalate cases past their SLA; how many."""
    async with service.work() as uow:
        return len(await mark_breaches(uow, rules))
