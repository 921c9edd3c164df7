"""Composition root of the referrals service."""

from __future__ import annotations

from pathlib import Path

from wom_chassis import Service, create_service, service_cli

from referrals.handlers import build_handlers
from referrals.settings import ReferralsSettings

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def create_app(settings: ReferralsSettings | None = None) -> Service:
    """Build one referrals service from its settings (read from the environment by default)."""
    settings = settings or ReferralsSettings()
    return create_service(settings, build_handlers(), migrations=MIGRATIONS)


def main() -> None:
    """`wom-referrals`: serve (default) or migrate."""
    service_cli(create_app)()
