"""Composition root of the referrals service."""

from __future__ import annotations

from pathlib import Path

from wom_chassis import Service, create_service, get_logger, provide, service_cli
from wom_chassis.jobs import every

from referrals import analytics_api, api
from referrals.handlers import build_handlers
from referrals.programme import Programme
from referrals.rules import load_rules
from referrals.settings import ReferralsSettings
from referrals.share_links import forget_stale_visitors

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
log = get_logger(__name__)


def create_app(settings: ReferralsSettings | None = None) -> Service:
    """Build one referrals service from its settings (read from the environment by default)."""
    settings = settings or ReferralsSettings()
    programme = Programme.of(load_rules(settings.referrals_rules_file), settings)
    sweep = every(60, forget_stale_visitors, name="share-link-visitors")
    service = create_service(settings, build_handlers(programme), migrations=MIGRATIONS, background=[sweep])
    provide(service.http, programme=programme)
    service.http.include_router(api.share_link_router)
    for router in (api.customers_router, api.reviews_router, api.decisions_router):
        service.http.include_router(router)
    service.http.include_router(analytics_api.router)
    return service


def main() -> None:
    """`wom-referrals`: serve (default) or migrate."""
    service_cli(create_app)()
