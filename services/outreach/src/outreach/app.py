"""Composition root of the outreach service."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from wom_chassis import Service, UnitOfWork, create_service, every, get_logger, provide, service_cli, utcnow

from outreach import api, unsubscribe
from outreach.delivery import Delivery
from outreach.handlers import build_handlers
from outreach.jobs import plan_yearly
from outreach.models import Contact
from outreach.rules import load_rules
from outreach.settings import OutreachSettings
from outreach.templates import Templates

__all__ = ["MIGRATIONS", "create_app", "main", "unsubscribe_contact"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
log = get_logger(__name__)


async def unsubscribe_contact(uow: UnitOfWork[None], customer_id: str) -> bool:
    """No more marketing for this customer (until they opt in again); False when unknown."""
    contact = await uow.session.get(Contact, customer_id)
    if contact is None:
        return False
    contact.marketing_consent, contact.unsubscribed_at, contact.updated_at = False, utcnow(), utcnow()
    log.info("contact_unsubscribed")
    return True


def create_app(settings: OutreachSettings | None = None) -> Service:
    """Build one outreach service from its settings (read from the environment by default)."""
    settings = settings or OutreachSettings()
    rules = load_rules(settings.outreach_rules_file)
    templates = Templates(default_locale=settings.default_locale)
    jobs = [
        Delivery(rules, settings, templates).run,
        every(
            settings.schedule_every_seconds,
            partial(plan_yearly, rules=rules, settings=settings),
            name="yearly",
        ),
    ]
    service = create_service(
        settings, build_handlers(rules, settings), migrations=MIGRATIONS, background=jobs
    )
    provide(service.http, settings=settings, templates=templates, on_unsubscribe=unsubscribe_contact)
    service.http.include_router(api.router)
    service.http.include_router(api.templates_router)
    service.http.include_router(unsubscribe.router)
    return service


def main() -> None:
    """`wom-outreach`: serve (default) or migrate."""
    service_cli(create_app)()
