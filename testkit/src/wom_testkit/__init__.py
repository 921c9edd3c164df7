"""Test support shared by every service's tests: databases on SQLite and PostgreSQL, records,
services on the in-memory broker, a mail inbox, Chromium. A dev dependency: no runtime package imports it."""

from __future__ import annotations

from wom_testkit.browser import CHROMIUM, chromium, chromium_missing, chromium_page
from wom_testkit.databases import (
    POSTGRES_ENV,
    database_backends,
    empty_database_url,
    fresh_database,
    sibling_database_url,
)
from wom_testkit.mail import MailInbox
from wom_testkit.records import FakeRecord, record_of
from wom_testkit.rules import rules_file
from wom_testkit.services import (
    BrokerRecords,
    dead_letters,
    emitted,
    idle_handlers,
    in_memory_service,
    publish_event,
)
from wom_testkit.serving import TIMEOUT_SCALE, bound, eventually, free_port, serving
from wom_testkit.tracing import span_recorder

__all__ = [
    "CHROMIUM",
    "POSTGRES_ENV",
    "TIMEOUT_SCALE",
    "BrokerRecords",
    "FakeRecord",
    "MailInbox",
    "bound",
    "chromium",
    "chromium_missing",
    "chromium_page",
    "database_backends",
    "dead_letters",
    "emitted",
    "empty_database_url",
    "eventually",
    "free_port",
    "fresh_database",
    "idle_handlers",
    "in_memory_service",
    "publish_event",
    "record_of",
    "rules_file",
    "serving",
    "sibling_database_url",
    "span_recorder",
]
