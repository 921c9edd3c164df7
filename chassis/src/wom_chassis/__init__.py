"""wom chassis: the infrastructure every service shares, and no domain."""

from wom_chassis.auth import (
    Credential,
    CurrentCredential,
    IdPath,
    guarded_router,
    public_router,
    session_router,
)
from wom_chassis.columns import ExactDecimal, UtcDateTime, new_id, utcnow
from wom_chassis.consumer import EventHandlers, EventProcessor
from wom_chassis.database import Database, serialise, upsert
from wom_chassis.jobs import every
from wom_chassis.logs import get_logger
from wom_chassis.rules_files import RulesError, load_rules_file
from wom_chassis.service import (
    CurrentService,
    ReadSession,
    Service,
    create_service,
    current_service,
    from_app,
    provide,
    service_cli,
)
from wom_chassis.settings import ServiceSettings
from wom_chassis.unit_of_work import EventRejected, UnitOfWork, unit_of_work

__all__ = [
    "Credential",
    "CurrentCredential",
    "CurrentService",
    "Database",
    "EventHandlers",
    "EventProcessor",
    "EventRejected",
    "ExactDecimal",
    "IdPath",
    "ReadSession",
    "RulesError",
    "Service",
    "ServiceSettings",
    "UnitOfWork",
    "UtcDateTime",
    "create_service",
    "current_service",
    "every",
    "from_app",
    "get_logger",
    "guarded_router",
    "load_rules_file",
    "new_id",
    "provide",
    "public_router",
    "serialise",
    "service_cli",
    "session_router",
    "unit_of_work",
    "upsert",
    "utcnow",
]
