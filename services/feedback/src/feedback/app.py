"""Composition root of the feedback service."""

from __future__ import annotations

from pathlib import Path

from wom_chassis import Service, create_service, service_cli

from feedback.handlers import build_handlers
from feedback.settings import FeedbackSettings

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def create_app(settings: FeedbackSettings | None = None) -> Service:
    """Build one feedback service from its settings (read from the environment by default)."""
    settings = settings or FeedbackSettings()
    return create_service(settings, build_handlers(), migrations=MIGRATIONS)


def main() -> None:
    """`wom-feedback`: serve (default) or migrate."""
    service_cli(create_app)()
