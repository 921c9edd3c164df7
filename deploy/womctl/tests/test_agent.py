"""The demo's support agent works a case through the real console's forms (login, CSRF, claim,
resolve), and the feedback service announces the resolution with the compensation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from feedback.app import create_app
from feedback.models import Case
from feedback.settings import FeedbackSettings
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_contracts import CaseResolvedV1, Money, ResponseSubmittedV1
from wom_testkit import emitted, empty_database_url, in_memory_service, publish_event, serving
from womctl.agent import ConsoleAgent, Resolution

DEMO_AGENTS = Path(__file__).resolve().parents[3] / "services/feedback/agents.demo.yaml"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Service, str]]:
    settings = FeedbackSettings(
        database_url=await empty_database_url("sqlite", tmp_path), api_token="t",
        feedback_agents_file=DEMO_AGENTS, feedback_session_secret="test-secret",
    )  # fmt: skip
    async with in_memory_service(create_app(settings)) as service, serving(service.http) as url:
        yield service, url


async def open_case(service: Service, customer: str) -> str:
    answer = ResponseSubmittedV1(
        customer_id=customer, response_id=f"resp-{customer}", kind="nps", score=2,
        comment="The parcel arrived broken.", submitted_at=utcnow(),
    )  # fmt: skip
    await publish_event(service.broker, answer)
    async with service.db.session() as session:
        return str(await session.scalar(select(Case.case_id).where(Case.customer_id == customer)))


async def test_the_agent_claims_and_resolves_with_store_credit_in_the_console(
    console: tuple[Service, str],
) -> None:
    service, url = console
    case_id = await open_case(service, "cust-7")
    agent = ConsoleAgent(url, "demo", "demo")
    try:
        assert await agent.resolve(case_id, Resolution("refunded", "Refunded.", "10.00", "EUR"))
        assert not await agent.resolve(case_id, Resolution("apologised", "Again.")), "it is resolved already"
    finally:
        await agent.close()
    [event] = await emitted(service, CaseResolvedV1)
    assert (event.case_id, event.resolution, event.resolved_by) == (case_id, "refunded", "demo")
    assert event.compensation == Money(amount=Decimal("10.00"), currency="EUR")


async def test_a_wrong_password_is_an_error_not_a_silent_failure(console: tuple[Service, str]) -> None:
    _, url = console
    agent = ConsoleAgent(url, "demo", "wrong")
    try:
        with pytest.raises(RuntimeError, match="refused 'demo': HTTP 401"):
            await agent.sign_in()
    finally:
        await agent.close()


def test_about_half_the_resolutions_come_with_store_credit() -> None:
    agent = ConsoleAgent("http://127.0.0.1:1", "demo", "demo", seed=3)
    decisions = [agent.decide() for _ in range(200)]
    with_credit = sum(1 for how in decisions if how.amount)
    assert 70 < with_credit < 130
    assert all((how.amount, how.currency) in {("", ""), ("10.00", "EUR")} for how in decisions)
