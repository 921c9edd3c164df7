"""Word-of-mouth analytics: API and page (being built)."""

from __future__ import annotations

from fastapi import APIRouter
from wom_chassis import Service, guarded_router

from referrals.programme import Programme

__all__ = ["build_analytics_api"]


def build_analytics_api(service: Service, programme: Programme) -> APIRouter:
    """The analytics endpoints (authenticated)."""
    return guarded_router(service.settings.api_token)
