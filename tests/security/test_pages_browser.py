"""Every HTML page wom serves, opened in a real headless Chromium with the credentials its
documentation gives: the page answers 200 and shows what it is for, and on the way nothing is
logged as an error, no request fails, none goes to another origin and the page's
Content-Security-Policy refuses nothing.

The list below is complete: every GET route of every service whose response is HTML
(`response_class=HTMLResponse`) must be in it, so a new page cannot be added without being
opened here. One Chromium serves the module; the pages open side by side, each in a fresh
browser context."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from feedback.app import create_app as create_feedback
from feedback.models import Case
from feedback.settings import FeedbackSettings
from outreach.app import create_app as create_outreach
from outreach.settings import OutreachSettings
from outreach.unsubscribe import unsubscribe_token
from referrals.app import create_app as create_referrals
from referrals.settings import ReferralsSettings
from rewards.app import create_app as create_rewards
from rewards.settings import RewardsSettings
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount
from wom_chassis import Service
from wom_contracts import ResponseSubmittedV1
from wom_testkit import CHROMIUM, chromium, in_memory_service, publish_event, serving

pytestmark = [
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.asyncio(loop_scope="module"),
]
pytest.importorskip("playwright.async_api")

ROOT = Path(__file__).resolve().parents[2]
DEMO_LOGINS = ROOT / "services" / "feedback" / "agents.demo.yaml"
DEMO_LOGIN = ("demo", "demo")  # README: the support console's demo login, local use only
TOKEN, SECRET_KEY = "the-api-token", "the-secret-key"
CUSTOMER = "cus-7"
SERVICES = ("referrals", "rewards", "outreach", "feedback")
WATCH_POLICY = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (e) => window.__refused.push(
    `${e.effectiveDirective} refused ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`));
"""


@dataclass(frozen=True)
class Page:
    """One HTML page: the route as its service declares it, how a person gets in, and an element
    that shows the page did its work (not just answered)."""

    service: str
    route: str
    shows: str
    basic: bool = False  # HTTP Basic in the browser's login prompt, the API token as password
    console_login: bool = False  # logged in through the console's form first, as the demo login

    def __str__(self) -> str:
        return f"{self.service} {self.route}"


PAGES = [
    Page("referrals", "/analytics", shows="svg", basic=True),
    Page("outreach", "/unsubscribe/{token}", shows="form button[type=submit]"),
    Page("feedback", "/console/login", shows="form #login"),
    Page("feedback", "/console", shows="tr[data-case-id]", console_login=True),
    Page("feedback", "/console/cases/{case_id}", shows=".answer", console_login=True),
    Page("feedback", "/console/customers", shows="form input#q", console_login=True),
    Page("feedback", "/console/customers/{customer_id}", shows="#timeline tr.line", console_login=True),
    # Swagger UI drew the operations of the service's /openapi.json
    *(Page(service, "/docs", shows=".opblock-summary-path") for service in SERVICES),
]


def build(name: str, directory: Path) -> Service:
    url = f"sqlite+aiosqlite:///{directory / name}.db"
    common: dict[str, Any] = {"database_url": url, "api_token": TOKEN}
    if name == "referrals":
        return create_referrals(ReferralsSettings(**common, referrals_hash_secret=SECRET_KEY))
    if name == "rewards":
        return create_rewards(RewardsSettings(**common))
    if name == "outreach":
        return create_outreach(OutreachSettings(**common, outreach_unsubscribe_secret=SECRET_KEY))
    return create_feedback(
        FeedbackSettings(**common, feedback_session_secret=SECRET_KEY, feedback_agents_file=DEMO_LOGINS)
    )


@dataclass
class Platform:
    """The four services served on free local ports, and the values their page routes take."""

    services: dict[str, Service]
    urls: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    directory = tmp_path_factory.mktemp("pages")
    async with AsyncExitStack() as stack:
        services = {name: await stack.enter_async_context(in_memory_service(build(name, directory)))
                    for name in SERVICES}  # fmt: skip
        urls = {name: await stack.enter_async_context(serving(s.http)) for name, s in services.items()}
        complaint = ResponseSubmittedV1(  # a detractor's answer opens a case for the console
            response_id="r-7", customer_id=CUSTOMER, kind="nps", score=1,
            comment="The vase arrived broken.", submitted_at=datetime.now(UTC),
        )  # fmt: skip
        await publish_event(services["feedback"].broker, complaint)
        async with services["feedback"].db.session() as session:
            case_id = await session.scalar(select(Case.case_id).where(Case.customer_id == CUSTOMER))
        assert case_id is not None, "the detractor's answer opened no case"
        values = {
            "token": unsubscribe_token(SECRET_KEY, CUSTOMER),
            "case_id": case_id,
            "customer_id": CUSTOMER,
        }
        yield Platform(services, urls, values)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as browser:
        yield browser


@dataclass
class Visit:
    """What the browser saw while opening one page."""

    origin: str
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: self.problems.extend([f"console: {m.text}"] * (m.type == "error")))
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} ({r.failure})"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request: Any) -> None:
        if not (request.url == self.origin or request.url.startswith(f"{self.origin}/")):
            self.problems.append(f"another origin: {request.method} {request.url}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"HTTP {response.status}: {response.url}")


async def log_in(page: Any, origin: str) -> None:
    await page.goto(f"{origin}/console/login")
    await page.fill("#login", DEMO_LOGIN[0])
    await page.fill("#password", DEMO_LOGIN[1])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{origin}/console")


async def open_page(browser: Any, origin: str, path: str, spec: Page) -> Visit:
    """Open `path` in a fresh context of `browser` as a person with the page's credentials would."""
    credentials = {"username": "operator", "password": TOKEN} if spec.basic else None
    context = await browser.new_context(http_credentials=credentials)
    try:
        context.set_default_timeout(30_000)  # nine pages at once on a loaded machine
        await context.add_init_script(WATCH_POLICY)
        page = await context.new_page()
        visit = Visit(origin)
        visit.watch(page)
        if spec.console_login:
            await log_in(page, origin)
        response = await page.goto(f"{origin}{path}")
        if response is None or response.status != 200:
            visit.problems.append(f"HTTP {response and response.status} for the page itself")
        elif page.url != f"{origin}{path}":
            visit.problems.append(f"landed on {page.url}")
        else:
            await page.locator(spec.shows).first.wait_for()
            await page.wait_for_load_state("networkidle")  # every request it makes has been made
        visit.problems += await page.evaluate("window.__refused")
        return visit
    finally:
        await context.close()


async def test_every_page_opens_in_chromium_and_nothing_is_refused(platform: Platform, browser: Any) -> None:
    """All pages at once, each in its own context (the services answer in this event loop)."""
    visits = await asyncio.gather(
        *(open_page(browser, platform.urls[spec.service], spec.route.format_map(platform.values), spec)
          for spec in PAGES)
    )  # fmt: skip
    problems = {str(spec): visit.problems for spec, visit in zip(PAGES, visits, strict=True)}
    assert problems == {str(spec): [] for spec in PAGES}


async def test_the_login_prompt_with_a_wrong_password_opens_no_page(platform: Platform, browser: Any) -> None:
    context = await browser.new_context(http_credentials={"username": "operator", "password": "wrong"})
    try:
        page = await context.new_page()
        refused = await page.goto(f"{platform.urls['referrals']}/analytics")
        assert refused is not None and refused.status == 401
        assert await page.locator("svg").count() == 0
    finally:
        await context.close()


async def test_the_check_sees_what_a_policy_refuses_and_a_request_to_another_origin(browser: Any) -> None:
    """A page whose inline script its policy forbids and which loads a picture from elsewhere."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/bad", response_class=HTMLResponse)
    async def bad() -> HTMLResponse:
        body = "<p>bad</p><script>document.title = 'ran'</script><img src='http://192.0.2.1/x.png'>"
        return HTMLResponse(body, headers={"Content-Security-Policy": "default-src 'self'"})

    async with serving(app) as origin:
        visit = await open_page(browser, origin, "/bad", Page("x", "/bad", shows="p"))
    assert any("script-src" in problem for problem in visit.problems), visit.problems
    assert any(problem.startswith("another origin: GET http://192.0.2.1/") for problem in visit.problems)


def html_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[str]:
    """The paths of GET routes that answer HTML, in included routers and mounted apps too."""
    for context in iter_route_contexts(routes):
        route, path = context.original_route, prefix + (context.path or "")
        if isinstance(route, Mount):
            yield from html_routes(getattr(route.app, "routes", []), path)
        elif isinstance(route, APIRoute) and "GET" in (context.methods or ()):
            answers = getattr(context, "response_class", route.response_class)  # as included
            if isinstance(answers, type) and issubclass(answers, HTMLResponse):
                yield path


async def test_every_html_page_of_every_service_is_opened_here(platform: Platform) -> None:
    services = platform.services.items()
    served = {f"{name} {path}" for name, service in services for path in html_routes(service.http.routes)}
    listed = {str(spec) for spec in PAGES}
    assert served - listed == set(), "HTML pages this module does not open: add them to PAGES"
    assert listed - served == set(), "PAGES lists routes no service serves as HTML"
