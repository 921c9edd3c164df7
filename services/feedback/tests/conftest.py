"""Fixtures of the feedback service tests: the service on the in-memory broker with a real
database (SQLite, and PostgreSQL when configured), with the shipped rules or adjusted ones."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from feedback import cases
from feedback.app import create_app
from feedback.domain.triage import Triage
from feedback.models import CustomerTier
from feedback.models import Response as Answer
from feedback.rules import DEFAULT_RULES_FILE, Rules
from feedback.settings import FeedbackSettings
from wom_chassis import Service, new_id, utcnow
from wom_testkit import database_backends, empty_database_url, in_memory_service, rules_file

TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INTAKE_SECRET = "survey-tool-secret"

FeedbackFactory = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture(params=database_backends())
def make_feedback(request: pytest.FixtureRequest, tmp_path: Path) -> FeedbackFactory:
    """Build a feedback service whose rules are the shipped ones with `changes` applied key by key,
    on an empty database each time."""

    @asynccontextmanager
    async def make(changes: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Service]:
        directory = Path(tempfile.mkdtemp(dir=tmp_path))  # a new SQLite file for each service
        rules = rules_file(directory, DEFAULT_RULES_FILE, changes)
        url = await empty_database_url(request.param, directory)
        app = create_app(
            FeedbackSettings(
                **{
                    "database_url": url,
                    "api_token": TOKEN,
                    "feedback_rules_file": rules,
                    "feedback_intake_secret": INTAKE_SECRET,
                    "feedback_session_secret": "test-secret-key",
                    **settings,
                }
            )
        )
        async with in_memory_service(app) as service:
            yield service

    return make


@pytest.fixture
async def feedback(make_feedback: FeedbackFactory) -> AsyncIterator[Service]:
    async with make_feedback() as service:
        yield service


async def seed_case(
    service: Service,
    customer: str,
    *,
    rules: Rules,
    sla_due_at: datetime,
    priority: str,
    queue: str,
    key_client: bool = False,
    score: int = 2,
    comment: str | None = "Parcel arrived late.",
    locale: str | None = None,
    tier: str | None = None,
    signals: tuple[str, ...] = (),
) -> str:
    """A detractor answer of `customer` and the case it opens, as intake and triage would leave
    them (the customer's tier recorded when given); returns the case id."""
    now = utcnow()
    async with service.work() as uow:
        answer = Answer(
            response_id=new_id(),
            customer_id=customer,
            kind="nps",
            score=score,
            comment=comment,
            locale=locale,
            submitted_at=now,
            category="detractor",
            signals=list(signals) or None,
            tier=tier,
        )
        uow.session.add(answer)
        if tier is not None:
            uow.session.add(CustomerTier(customer_id=customer, tier=tier, changed_at=now))
        triage = Triage(
            priority=priority,
            opened_at=now,
            sla_due_at=sla_due_at,
            queue=queue,
            key_client=key_client,
            signals=signals,
        )
        case = cases.open_case(
            uow,
            customer_id=answer.customer_id,
            response_id=answer.response_id,
            kind=answer.kind,
            score=answer.score,
            tier=answer.tier,
            triage=triage,
            rules=rules,
        )
        answer.case_id = case.case_id
        return case.case_id
