"""Composition root of the feedback service."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from wom_chassis import Service, create_service, every, get_logger, provide, service_cli

from feedback import analytics_api, deliveries_api, intake
from feedback.console import routes as console
from feedback.console.access import ConsoleAccess
from feedback.customers import EmailHasher
from feedback.deliveries import deliver_due
from feedback.domain.classification import load_lexicon
from feedback.handlers import build_handlers
from feedback.jobs import check_breaches
from feedback.rules import load_rules
from feedback.settings import FeedbackSettings

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
log = get_logger(__name__)


def create_app(settings: FeedbackSettings | None = None) -> Service:
    """Build one feedback service from its settings (read from the environment by default)."""
    settings = settings or FeedbackSettings()
    rules = load_rules(settings.feedback_rules_file)
    lexicon = load_lexicon(rules.classification.extra_negative_phrases)
    jobs = [
        every(settings.breach_every_seconds, partial(check_breaches, rules=rules), name="breaches"),
        every(
            settings.delivery_every_seconds,
            partial(deliver_due, rules=rules, settings=settings),
            name="escalations",
        ),
    ]
    email_hash = EmailHasher(settings.feedback_search_secret.get_secret_value())
    handlers = build_handlers(rules, lexicon, email_hash)
    service = create_service(settings, handlers, migrations=MIGRATIONS, background=jobs)
    provide(
        service.http,
        settings=settings,
        rules=rules,
        console_access=ConsoleAccess.of(settings),
        email_hash=email_hash,
    )
    service.http.include_router(intake.router)
    service.http.include_router(deliveries_api.router)
    service.http.include_router(analytics_api.router)
    service.http.include_router(console.login_router)
    service.http.include_router(console.router)
    return service


def main() -> None:
    """`wom-feedback`: serve (default) or migrate."""
    service_cli(create_app)()
