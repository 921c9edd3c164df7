"""wom chassis: the infrastructure every service shares, and no domain."""

from wom_chassis.auth import IdPath, bearer_token_guard, guarded_router
from wom_chassis.columns import ExactDecimal, UtcDateTime, new_id, utcnow
from wom_chassis.consumer import EventHandlers, EventProcessor
from wom_chassis.database import Database, serialise, upsert
from wom_chassis.jobs import every
from wom_chassis.logs import get_logger
from wom_chassis.rules_files import RulesError, load_rules_file
from wom_chassis.service import Service, create_service, service_cli
from wom_chassis.settings import ServiceSettings
from wom_chassis.unit_of_work import EventRejected, UnitOfWork, unit_of_work

__all__ = [
    "Database",
    "EventHandlers",
    "EventProcessor",
    "EventRejected",
    "ExactDecimal",
    "IdPath",
    "RulesError",
    "Service",
    "ServiceSettings",
    "UnitOfWork",
    "UtcDateTime",
    "bearer_token_guard",
    "create_service",
    "every",
    "get_logger",
    "guarded_router",
    "load_rules_file",
    "new_id",
    "serialise",
    "service_cli",
    "unit_of_work",
    "upsert",
    "utcnow",
]
