"""Every HTTP route of every service refuses a caller without credentials, or with wrong ones,
unless `deploy/public-routes.yaml` lists it as public with a reason; every route declares who may
call it (a scope, public, or a signed-in session), and a guarded route refuses a credential that
holds every scope but its own.

The routes are enumerated from the apps as the services build them (`create_app`, so the
chassis' routes, every included router and anything mounted later are all there), every method of
each is called, and the databases hold a customer with an email, an order, a complaint and a case,
so a route that answered would have something to show. A refusal is a 401 or 403, or for the
support console's pages a redirect to its login page; its body holds none of that data, and
nothing in any table changed.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
import yaml
from fastapi.routing import iter_route_contexts
from feedback.app import create_app as create_feedback
from feedback.console.agents import hash_password
from feedback.console.sessions import COOKIE_NAME, Session, SessionSigner
from feedback.models import Case
from feedback.settings import FeedbackSettings
from outreach.app import create_app as create_outreach
from outreach.settings import OutreachSettings
from outreach.unsubscribe import unsubscribe_token
from referrals.app import create_app as create_referrals
from referrals.models import ReferralCode
from referrals.settings import ReferralsSettings
from rewards.app import create_app as create_rewards
from rewards.settings import RewardsSettings
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount, Route
from wom_chassis import Service
from wom_chassis.auth import PUBLIC, SESSION, token_digest
from wom_contracts import CustomerRegisteredV1, Money, OrderCompletedV1, ResponseSubmittedV1, Scope
from wom_testkit import in_memory_service, publish_event
from wom_testkit.scan import reflected, table_rows

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_ROUTES = ROOT / "deploy" / "public-routes.yaml"
TOKEN = "the-real-api-token"
SECRET_KEY = "the-real-secret-key"
CUSTOMER, EMAIL = "ana-7", "ana.seven@example.com"
COMMENT = "The parcel arrived crushed and nobody answers"
AGENT, AGENT_PASSWORD = "ana", "agent-password"
NOW = datetime.now(UTC)
EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = {401, 403}


@dataclass(frozen=True)
class Endpoint:
    """One method of one route of one service, as the app declares it."""

    service: str
    method: str
    path: str
    access: str | None = field(default=None, compare=False)
    """What the route declares: a scope, public or session (None: it declares nothing)."""

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


# --- what the apps declare ---------------------------------------------------------------------


def declared(service: str, routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    """Every method of every route, including included routers and mounted apps."""
    for context in iter_route_contexts(routes):
        route, path = context.original_route, prefix + (context.path or "")
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner is None:  # an opaque ASGI app: any path under it, any method
                yield from (Endpoint(service, m, f"{path}/{{rest}}") for m in EVERY_METHOD)
            else:
                yield from declared(service, inner, path)
        elif isinstance(route, Route):  # FastAPI's APIRoute is one too
            access = getattr(route, "access", None)
            yield from (Endpoint(service, m, path, access) for m in sorted(context.methods or EVERY_METHOD))
        else:
            raise AssertionError(
                f"{service}: route {path!r} is a {type(route).__name__}, which this check cannot call; "
                "protect it and teach tests/security/test_routes.py to call it"
            )


def public_routes() -> set[Endpoint]:
    """deploy/public-routes.yaml, expanded to one endpoint per service and method."""
    entries = yaml.safe_load(PUBLIC_ROUTES.read_text(encoding="utf-8"))["routes"]
    public = set()
    for entry in entries:
        assert entry.get("reason") and entry.get("exposure") in ("internet", "cluster"), entry
        services = SERVICES if entry["service"] == "*" else [entry["service"]]
        public |= {Endpoint(s, m, entry["path"]) for s in services for m in entry["methods"]}
    return public


# --- the four services, built as they build themselves, with data to protect --------------------


SERVICES = ["referrals", "rewards", "outreach", "feedback"]


def _agents_file(directory: Path) -> Path:
    path = directory / "agents.yaml"
    path.write_text(
        f'- login: {AGENT}\n  name: Ana\n  password_hash: "{hash_password(AGENT_PASSWORD, n=2**10)}"\n',
        encoding="utf-8",
    )
    return path


def _scoped_token(kind: str, scope: str) -> str:
    return f"{kind}-{scope}-token"


SCOPED = [  # for each scope, a credential holding only it and one holding every other
    {
        "name": f"{kind}-{scope.replace(':', '.')}",
        "sha256": token_digest(_scoped_token(kind, scope)),
        "scopes": held,
    }
    for scope in Scope
    for kind, held in (("only", [scope]), ("all-but", [s for s in Scope if s != scope]))
]


def build(name: str, directory: Path) -> Service:
    url = f"sqlite+aiosqlite:///{directory / name}.db"
    common: dict[str, Any] = {"database_url": url, "api_token": TOKEN, "api_tokens": SCOPED}
    if name == "referrals":
        return create_referrals(ReferralsSettings(**common, referrals_hash_secret=SECRET_KEY))
    if name == "rewards":
        return create_rewards(RewardsSettings(**common))
    if name == "outreach":
        return create_outreach(OutreachSettings(**common, outreach_unsubscribe_secret=SECRET_KEY))
    return create_feedback(
        FeedbackSettings(
            **common,
            feedback_session_secret=SECRET_KEY,
            feedback_intake_secret="the-real-intake-secret",
            feedback_agents_file=_agents_file(directory),
        )
    )


async def seed(service: Service) -> None:
    """What a shop publishes about one customer: every service keeps what it needs of it."""
    events = [
        CustomerRegisteredV1(
            customer_id=CUSTOMER, email=EMAIL, first_name="Ana", registered_at=NOW, marketing_consent=True
        ),
        OrderCompletedV1(
            customer_id=CUSTOMER,
            order_id="o-7",
            total=Money(amount=Decimal("120.00"), currency="EUR"),
            completed_at=NOW,
        ),
        ResponseSubmittedV1(
            customer_id=CUSTOMER, response_id="r-7", kind="nps", score=1, comment=COMMENT, submitted_at=NOW
        ),
    ]
    for event in events:
        await publish_event(service.broker, event)


async def path_values(services: dict[str, Service]) -> dict[str, str]:
    """Real ids where the databases have them, so an unprotected route would find something."""
    async with services["feedback"].db.session() as session:
        case_id = await session.scalar(select(Case.case_id).where(Case.customer_id == CUSTOMER))
    async with services["referrals"].db.session() as session:
        code = await session.scalar(select(ReferralCode.code).where(ReferralCode.customer_id == CUSTOMER))
    assert case_id and code, "the seed events did not reach feedback and referrals"
    return {
        "customer_id": CUSTOMER,
        "case_id": case_id,
        "code": code,
        "kind": "welcome",
        "token": unsubscribe_token(SECRET_KEY, CUSTOMER),
    }


def concrete(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x-1"), path)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Service]]:
    directory = tmp_path_factory.mktemp("routes")
    async with AsyncExitStack() as stack:
        services = {}
        for name in SERVICES:
            services[name] = await stack.enter_async_context(in_memory_service(build(name, directory)))
            await seed(services[name])
        yield services


# --- callers without the right credentials ------------------------------------------------------

CSRF = "a-csrf-token-the-attacker-chose"


def _forged_session() -> str:
    """A console session for a real agent, signed with a key that is not the service's."""
    session = Session(login=AGENT, csrf=CSRF, expires=int(time.time()) + 3600)
    return SessionSigner("not-the-service-key").dumps(session)


CALLERS: dict[str, dict[str, str]] = {
    "no credentials": {},
    "a wrong bearer token": {"Authorization": "Bearer not-the-token"},
    "HTTP Basic with a wrong password": {
        "Authorization": "Basic " + base64.b64encode(b"operator:not-the-token").decode()
    },
    "the token with another scheme": {"Authorization": f"Token {TOKEN}"},
    "a forged console session": {"Cookie": f"{COOKIE_NAME}={_forged_session()}"},
    "a made-up webhook signature": {"X-Wom-Timestamp": str(int(time.time())), "X-Wom-Signature": "sha256=00"},
}
BODIES: dict[str, dict[str, Any]] = {  # a JSON API and an HTML form each see a body they can read
    "json": {"json": {"csrf_token": CSRF}},
    "form": {"data": {"csrf_token": CSRF, "login": AGENT, "resolution": "refund", "note": "x"}},
}


def refusal_problem(endpoint: Endpoint, response: httpx.Response, public: set[Endpoint]) -> str | None:
    """Why `response` is not a refusal, or None when it is one."""
    secrets = [EMAIL, COMMENT, CUSTOMER]
    leaked = [s for s in secrets if s in response.text or s in response.headers.get("location", "")]
    if leaked:
        return f"HTTP {response.status_code} shows {leaked}"
    if response.status_code in REFUSED:
        return None
    if response.is_redirect:
        target = urlsplit(response.headers["location"]).path
        login_pages = {p.path for p in public if p.service == endpoint.service and p.path.endswith("/login")}
        if target in login_pages:
            return None
        return f"HTTP {response.status_code} redirects to {target!r}, not to a login page"
    return f"HTTP {response.status_code}: {response.text[:160]!r}"


@pytest.mark.asyncio(loop_scope="module")
async def test_every_route_refuses_a_caller_without_credentials_unless_it_is_listed_public(
    platform: dict[str, Service],
) -> None:
    public = public_routes()
    endpoints = [e for name, service in platform.items() for e in declared(name, service.http.routes)]
    unknown_public = public - set(endpoints)
    assert not unknown_public, (
        f"{PUBLIC_ROUTES.name} lists routes no service has: {sorted(map(str, unknown_public))}"
    )
    values = await path_values(platform)
    problems: list[str] = []
    checked = 0
    tables = {name: await reflected(service.db.engine) for name, service in platform.items()}
    for endpoint in (e for e in endpoints if e not in public):
        service = platform[endpoint.service]
        before = await table_rows(service.db.engine, tables[endpoint.service])
        transport = httpx.ASGITransport(app=service.http)
        url = concrete(endpoint.path, values)
        answers: dict[str, list[str]] = {}  # what was wrong → with which callers
        async with httpx.AsyncClient(transport=transport, base_url="http://wom.test") as http:
            for caller, headers in CALLERS.items():
                bodies = BODIES if endpoint.method in WITH_BODY else {"no": {}}
                for body_kind, body in bodies.items():
                    response = await http.request(endpoint.method, url, headers=headers, **body)
                    checked += 1
                    if (problem := refusal_problem(endpoint, response, public)) is not None:
                        answers.setdefault(problem, []).append(f"{caller} ({body_kind} body)")
        problems += [f"{endpoint} ({url}): {p} — with {', '.join(c)}" for p, c in answers.items()]
        after = await table_rows(service.db.engine, tables[endpoint.service])
        changed = sorted(t for t in after if after[t] != before.get(t))
        if changed:
            problems.append(f"{endpoint}: refused calls changed the tables {changed}")
    assert not problems, (
        "routes that answer without valid credentials: protect them (wom_chassis.auth.guarded_router), "
        f"or list them with a reason in deploy/{PUBLIC_ROUTES.name}:\n" + "\n".join(problems)
    )
    assert checked > 100  # the enumeration found the routes (about 30 protected ones today)


@pytest.mark.asyncio(loop_scope="module")
async def test_public_routes_show_no_personal_data(platform: dict[str, Service]) -> None:
    """The listed routes answer without credentials; what they answer holds neither the email
    nor the complaint (a POST is not tried: unsubscribing and logging in are what they are for)."""
    values = await path_values(platform)
    shown = []
    for endpoint in sorted(public_routes(), key=str):
        if endpoint.method not in ("GET", "HEAD"):
            continue
        transport = httpx.ASGITransport(app=platform[endpoint.service].http)
        async with httpx.AsyncClient(transport=transport, base_url="http://wom.test") as http:
            response = await http.request(endpoint.method, concrete(endpoint.path, values))
        assert response.status_code < 500, (str(endpoint), response.status_code)
        text = response.text + response.headers.get("location", "")
        shown += [f"{endpoint}: {s!r}" for s in (EMAIL, COMMENT) if s in text]
    assert not shown, shown


@pytest.mark.asyncio(loop_scope="module")
async def test_every_route_declares_who_may_call_it(platform: dict[str, Service]) -> None:
    """A route is guarded by a scope, public (and then listed), or a page of a signed-in session:
    one that declares nothing was added without `guarded_router`, `public_router` or
    `session_router`. FastAPI's own `/openapi.json` is the one route without a declaration."""
    listed = public_routes()
    problems = []
    for name, service in platform.items():
        for endpoint in declared(name, service.http.routes):
            access, public = endpoint.access, endpoint in listed
            if access is None and not (public and endpoint.path == "/openapi.json"):
                problems.append(f"{endpoint} declares no access")
            elif access == PUBLIC and not public:
                problems.append(f"{endpoint} is public and not listed in {PUBLIC_ROUTES.name}")
            elif access not in (PUBLIC, None) and public:
                problems.append(f"{endpoint} is listed public but declares {access!r}")
            elif access not in (PUBLIC, SESSION, None) and access not in set(Scope):
                problems.append(f"{endpoint} declares {access!r}, which is no scope")
    assert not problems, "\n".join(problems)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_guarded_route_admits_its_scope_and_refuses_every_other(platform: dict[str, Service]) -> None:
    """Each guarded route, called with a credential holding every scope but its own, is a 403 that
    names the scope and changes nothing; with one holding only its scope it is let in."""
    values = await path_values(platform)
    tables = {name: await reflected(service.db.engine) for name, service in platform.items()}
    endpoints = [e for name, service in platform.items() for e in declared(name, service.http.routes)]
    guarded = [e for e in endpoints if e.access in set(Scope)]
    assert {e.access for e in guarded} == set(Scope)  # every scope guards something
    problems = []
    for endpoint in guarded:
        service, url = platform[endpoint.service], concrete(endpoint.path, values)
        body = BODIES["json"] if endpoint.method in WITH_BODY else {}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.http), base_url="http://wom.test"
        ) as http:
            before = await table_rows(service.db.engine, tables[endpoint.service])
            others = {"Authorization": f"Bearer {_scoped_token('all-but', str(endpoint.access))}"}
            refused = await http.request(endpoint.method, url, headers=others, **body)
            after = await table_rows(service.db.engine, tables[endpoint.service])
            own = {"Authorization": f"Bearer {_scoped_token('only', str(endpoint.access))}"}
            admitted = await http.request(endpoint.method, url, headers=own, **body)
        if refused.status_code != 403 or refused.json().get("code") != "scope_required":
            problems.append(
                f"{endpoint} without {endpoint.access}: HTTP {refused.status_code} {refused.text[:120]!r}"
            )
        elif str(endpoint.access) not in refused.json()["detail"]:
            problems.append(f"{endpoint}: the 403 does not name {endpoint.access}")
        if changed := sorted(t for t in after if after[t] != before.get(t)):
            problems.append(f"{endpoint}: a refused call changed {changed}")
        if admitted.status_code in REFUSED:
            problems.append(f"{endpoint} with only {endpoint.access}: HTTP {admitted.status_code}")
    assert not problems, "\n".join(problems)
    assert len(guarded) > 20  # 24 today


def test_the_enumeration_sees_routes_of_included_routers_and_mounted_apps() -> None:
    """A route added by a router, a mounted app or an opaque ASGI app is checked like the others."""
    from fastapi import APIRouter, FastAPI

    async def opaque(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never called here")

    inner, router = FastAPI(), APIRouter(prefix="/api")
    inner.get("/report")(lambda: {})
    router.post("/things/{thing_id}")(lambda thing_id: {})
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)
    app.mount("/admin", inner)
    app.mount("/files", opaque)
    found = {str(e) for e in declared("x", app.routes)}
    assert {"x POST /api/things/{thing_id}", "x GET /admin/report", "x DELETE /files/{rest}"} <= found
