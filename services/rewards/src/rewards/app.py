"""Composition root of the rewards service."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from wom_chassis import Service, create_service, every, provide, service_cli

from rewards import api
from rewards.handlers import build_handlers
from rewards.jobs import birthday_gifts, expire_points, recompute_tiers, release_due
from rewards.rules import load_rules
from rewards.settings import RewardsSettings

__all__ = ["MIGRATIONS", "create_app", "main"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def create_app(settings: RewardsSettings | None = None) -> Service:
    """Build one rewards service from its settings (read from the environment by default)."""
    settings = settings or RewardsSettings()
    rules = load_rules(settings.rewards_rules_file)
    jobs = [
        every(settings.release_every_seconds, release_due, name="release"),
        every(settings.expiry_every_seconds, partial(expire_points, rules=rules), name="expiry"),
        every(
            float(rules.tiers.key_client.recompute_minutes) * 60,
            partial(recompute_tiers, rules=rules),
            name="tiers",
        ),
        every(settings.birthday_every_seconds, partial(birthday_gifts, rules=rules), name="birthdays"),
    ]
    service = create_service(settings, build_handlers(rules), migrations=MIGRATIONS, background=jobs)
    provide(service.http, rules=rules)
    service.http.include_router(api.router)
    service.http.include_router(api.redemptions_router)
    return service


def main() -> None:
    """`wom-rewards`: serve (default) or migrate."""
    service_cli(create_app)()
