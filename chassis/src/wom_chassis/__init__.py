"""wom chassis: the infrastructure every service shares, and no domain."""

from wom_chassis.auth import IdPath, bearer_token_guard, guarded_router
from wom_chassis.columns import UtcDateTime, utcnow
from wom_chassis.consumer import EventHandlers, EventProcessor, UnitOfWork
from wom_chassis.database import Database
from wom_chassis.logs import get_logger
from wom_chassis.service import Service, create_service, service_cli
from wom_chassis.settings import ServiceSettings

__all__ = [
    "Database",
    "EventHandlers",
    "EventProcessor",
    "IdPath",
    "Service",
    "ServiceSettings",
    "UnitOfWork",
    "UtcDateTime",
    "bearer_token_guard",
    "create_service",
    "get_logger",
    "guarded_router",
    "service_cli",
    "utcnow",
]
