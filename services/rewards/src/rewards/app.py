"""Composition root of the rewards service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from wom_chassis import Service, create_service, service_cli

from rewards.api import build_api
from rewards.domain import EarningRules
from rewards.handlers import build_handlers
from rewards.settings import RewardsSettings

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def create_app(settings: RewardsSettings | None = None) -> Service:
    """Build one rewards service from its settings (read from the environment by default)."""
    settings = settings or RewardsSettings()
    rules = EarningRules(settings.points_per_unit, timedelta(days=settings.points_hold_days))
    service = create_service(settings, build_handlers(rules), migrations=MIGRATIONS)
    service.http.include_router(build_api(settings, service.db))
    return service


def main() -> None:
    """`wom-rewards`: serve (default) or migrate."""
    service_cli(create_app)()
