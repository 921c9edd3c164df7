"""Composition root of the outreach service."""

from __future__ import annotations

from pathlib import Path

from wom_chassis import Service, create_service, service_cli

from outreach.api import build_api
from outreach.delivery import Mailer, run_delivery
from outreach.handlers import build_handlers
from outreach.settings import OutreachSettings
from outreach.templates import Templates

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def create_app(settings: OutreachSettings | None = None) -> Service:
    """Build one outreach service from its settings (read from the environment by default)."""
    settings = settings or OutreachSettings()
    templates = Templates(default_locale=settings.default_locale)
    mailer = Mailer(settings)

    async def deliver(service: Service) -> None:
        await run_delivery(service.db, mailer, templates, settings, service.relay.wake)

    service = create_service(settings, build_handlers(), migrations=MIGRATIONS, background=[deliver])
    service.http.include_router(build_api(settings, service.db))
    return service


def main() -> None:
    """`wom-outreach`: serve (default) or migrate."""
    service_cli(create_app)()
