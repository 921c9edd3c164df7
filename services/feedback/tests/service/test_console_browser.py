"""The support console in a real headless Chromium (Debian's, driven by Playwright): an agent logs
in with the demo login, watches the SLA countdown tick, opens the case, claims it and resolves it
with compensation, and the service announces `feedback.case.resolved.v1` with that compensation.

The case is opened the way production opens it: a detractor answer published to the service.
The app is served by uvicorn on a free local port inside the test's event loop, while the service
runs on FastStream's in-memory broker, so what it emits lands in its outbox."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from feedback.app import create_app
from feedback.models import Case
from feedback.settings import FeedbackSettings
from sqlalchemy import select
from wom_chassis import Service, new_id, utcnow
from wom_contracts import (
    CaseRepliedV1,
    CaseResolvedV1,
    CustomerRegisteredV1,
    Money,
    OrderCompletedV1,
    ResponseSubmittedV1,
)
from wom_testkit import (
    CHROMIUM,
    chromium_page,
    emitted,
    empty_database_url,
    in_memory_service,
    publish_event,
    serving,
)

DEMO_AGENTS = Path(__file__).parents[2] / "agents.demo.yaml"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}")
pytest.importorskip("playwright.async_api")


async def serve(service: Service) -> AsyncIterator[str]:
    """Serve the service's HTTP app on a free port of 127.0.0.1 until the test ends."""
    async with serving(service.http) as url:  # the test runs the service itself
        yield url


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Service, str]]:
    settings = FeedbackSettings(
        database_url=await empty_database_url("sqlite", tmp_path),
        api_token="t",
        feedback_agents_file=DEMO_AGENTS,
        feedback_session_secret="test-secret",
    )
    async with in_memory_service(create_app(settings)) as service:
        async for url in serve(service):
            yield service, url


async def detractor_answers(service: Service, customer: str, comment: str) -> str:
    """A survey tool publishes an NPS 1 with a comment; the answer handler opens a case (its id)."""
    answer = ResponseSubmittedV1(
        response_id=new_id(),
        customer_id=customer,
        kind="nps",
        score=1,
        comment=comment,
        submitted_at=utcnow(),
    )
    await publish_event(service.broker, answer)
    async with service.db.session() as session:
        case_id = await session.scalar(select(Case.case_id).where(Case.customer_id == customer))
    assert case_id is not None, "the detractor answer opened no case"
    return str(case_id)


async def test_an_agent_claims_replies_to_and_resolves_a_case_with_compensation_in_chromium(
    console: tuple[Service, str],
) -> None:
    service, base = console
    case_id = await detractor_answers(service, "cust-42", "The vase arrived broken.")
    problems: list[str] = []
    async with chromium_page() as page:
        # a CSP violation (a script or style without the nonce) shows up as a console error
        page.on("console", lambda message: problems.extend([message.text] * (message.type == "error")))
        page.on("pageerror", lambda error: problems.append(str(error)))

        await page.goto(f"{base}/console")
        assert page.url == f"{base}/console/login"
        await page.fill("#login", "demo")
        await page.fill("#password", "demo")
        await page.click("button[type=submit]:has-text('Log in')")
        await page.wait_for_url(f"{base}/console")

        row = page.locator(f"tr[data-case-id='{case_id}']")
        assert await row.locator("td").nth(2).inner_text() == "cust-42"
        assert await page.locator("#nps-chart svg").count() == 2  # NPS and cases per day, drawn inline
        countdown = row.locator(".countdown")
        first = await countdown.inner_text()
        assert re.fullmatch(r"(\d+d )?\d+h \d\dm \d\ds", first), first
        await page.wait_for_function(
            "([el, text]) => el.textContent !== text", arg=[await countdown.element_handle(), first]
        )
        assert await countdown.inner_text() != first

        await row.locator("a").click()
        await page.wait_for_url(f"{base}/console/cases/{case_id}")
        assert "The vase arrived broken." in await page.locator(".answer").inner_text()
        await page.click("#claim")
        await page.wait_for_selector("#status:has-text('claimed by demo')")

        # a personal reply, before resolving: kept in the history, published for outreach to mail
        await page.fill("#message", "So sorry about the vase.\nA refund is on its way.")
        await page.click("#send-reply")
        await page.wait_for_selector("#history td:has-text('replied')")
        assert "A refund is on its way." in await page.locator("#history").inner_text()

        await page.select_option("#resolution", "refunded")
        await page.fill("#note", "Refunded the vase; sorry.")
        await page.fill("#amount", "15.00")
        await page.fill("#currency", "EUR")
        await page.click("#resolve")
        await page.wait_for_selector("#status:has-text('resolved')")
        assert await page.locator("#compensation").inner_text() == "€15.00"  # as English writes it (Babel)
        assert "refunded by demo" in await page.locator("#resolution").inner_text()
    assert problems == []
    [replied] = await emitted(service, CaseRepliedV1)
    assert (
        replied.case_id == case_id and replied.message == "So sorry about the vase.\nA refund is on its way."
    )
    [event] = await emitted(service, CaseResolvedV1)
    assert event.case_id == case_id and event.resolved_by == "demo"
    assert event.compensation == Money(amount=Decimal("15.00"), currency="EUR")
    assert event.note == "Refunded the vase; sorry."


async def test_an_agent_finds_a_customer_by_email_and_reads_their_timeline_in_chromium(
    console: tuple[Service, str],
) -> None:
    service, base = console
    registered = CustomerRegisteredV1(
        customer_id="cust-77", email="Mira@example.com", registered_at=utcnow(), locale="sv-SE"
    )
    order = OrderCompletedV1(
        customer_id="cust-77", order_id="o-77", total=Money(amount=Decimal("19.90"), currency="EUR"),
        completed_at=utcnow(),
    )  # fmt: skip
    for event in (registered, order):
        await publish_event(service.broker, event)
    case_id = await detractor_answers(service, "cust-77", "Still waiting for my points.")
    problems: list[str] = []
    async with chromium_page() as page:
        page.on("console", lambda message: problems.extend([message.text] * (message.type == "error")))
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(f"{base}/console/login")
        await page.fill("#login", "demo")
        await page.fill("#password", "demo")
        await page.click("button[type=submit]:has-text('Log in')")
        await page.wait_for_url(f"{base}/console")

        await page.fill("#find-customer", "mira@EXAMPLE.com")
        await page.press("#find-customer", "Enter")
        await page.wait_for_url(f"{base}/console/customers/cust-77")
        kinds = await page.locator("#timeline tr.line").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert kinds[-2:] == ["order_completed", "registered"] and set(kinds[:2]) == {"answer", "case_opened"}
        assert "o-77 · €19.90" in await page.locator("tr[data-kind=order_completed]").inner_text()
        await page.click(f"tr[data-kind=case_opened] a[href='/console/cases/{case_id}']")
        await page.wait_for_url(f"{base}/console/cases/{case_id}")
        await page.click("#customer")  # and back from the case to its customer
        await page.wait_for_url(f"{base}/console/customers/cust-77")
    assert problems == []
