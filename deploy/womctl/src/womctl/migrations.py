"""`womctl migrate`: a service's database migrations, applied before a rollout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from wom_chassis import Database, ServiceSettings

__all__ = ["SERVICES_DIR", "database_url", "migrate", "migrations_of"]

SERVICES_DIR = Path(__file__).resolve().parents[4] / "services"


def migrations_of(service: str) -> Path:
    """The Alembic versions of `service` (services/<service>/migrations/versions)."""
    versions = SERVICES_DIR / service / "migrations" / "versions"
    if not versions.is_dir():
        raise FileNotFoundError(f"{service} has no migrations at {versions}")
    return versions


def database_url(service: str) -> str:
    """DATABASE_URL as the service reads it (its default: SQLite under var/)."""
    return ServiceSettings(service_name=service).database_url


async def migrate(service: str, url: str, revision: str = "heads") -> list[str]:
    """Bring the service's database at `url` to `revision` (the chassis tables and the service's
    own, exactly as the service does at start-up); return the revisions it is at afterwards."""
    db = Database(url, [migrations_of(service)])
    try:
        await db.migrate(revision)
        async with db.session() as session:
            return sorted((await session.scalars(text("SELECT version_num FROM alembic_version"))).all())
    finally:
        await db.dispose()
