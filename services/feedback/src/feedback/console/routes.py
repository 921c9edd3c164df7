"""The support console's pages: login, the queue by priority and time to SLA breach, and the case
page where an agent claims and resolves a case. Server-rendered, plain forms, CSRF-checked."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import (
    CurrentService,
    ReadSession,
    Service,
    get_logger,
    public_router,
    session_router,
    utcnow,
)
from wom_chassis.l10n import install_filters

from feedback.analytics_api import console_chart
from feedback.cases import CaseConflict, claim, reply, resolve
from feedback.console.access import ConsoleAccess
from feedback.console.agents import Agent
from feedback.console.forms import (
    CURRENCIES,
    REPLY_MAX_CHARS,
    RESOLUTION_CODES,
    ReplyForm,
    ResolveForm,
    read_reply_form,
    read_resolve_form,
)
from feedback.console.sessions import Session
from feedback.console.throttle import Busy, Throttled
from feedback.dependencies import CurrentConsoleAccess, CurrentEmailHash, CurrentRules
from feedback.models import Case
from feedback.queries import (
    case_queue,
    case_record,
    customer_by_email,
    customer_queues,
    customer_record,
    open_cases,
)
from feedback.rules import Rules

__all__ = ["QUEUE_LIMIT", "countdown_text", "login_router", "router", "security_headers"]

log = get_logger(__name__)
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "console"
QUEUE_LIMIT = 500
"""At most this many cases on the queue page; the most urgent come first."""
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_pages = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]), undefined=StrictUndefined
)


def security_headers(nonce: str) -> dict[str, str]:
    """Headers of every console response: nothing but this page's own nonce-marked style and
    script may run (plus style attributes, which the chart's SVG uses and which cannot run
    code), no framing, no referrer, no caching of personal data."""
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "style-src-attr 'unsafe-inline'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def _countdown(rules: Rules, case: Case, now: datetime) -> tuple[int, bool]:
    """Seconds of the queue's working time to the deadline (negative: overdue), and whether the
    clock runs now (outside working hours it stands still)."""
    clock = rules.clock(case.queue)
    return int(clock.between(now, case.sla_due_at).total_seconds()), clock.working(now)


def countdown_text(seconds: int) -> str:
    """Time left to the SLA deadline as the page shows it (the script counts the same way)."""
    left = abs(seconds)
    text = f"{left // 86400}d " if left >= 86400 else ""
    text += f"{left % 86400 // 3600}h {left % 3600 // 60:02d}m {left % 60:02d}s"
    return f"overdue {text}" if seconds < 0 else text


_pages.globals["countdown_text"] = countdown_text
install_filters(_pages)
_pages.globals["locale"] = "en"  # the console's words are English; its money too ("¥1,500", "€15.00")


def _page(
    template: str, *, status_code: int = 200, session: Session | None = None, **context: Any
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    if "chart" in context:  # the chart's own <style> elements must carry the page's nonce
        context["chart"] = Markup(str(context["chart"]).replace("<style", f'<style nonce="{nonce}"'))
    html = _pages.get_template(template).render(nonce=nonce, csrf=session.csrf if session else "", **context)
    return HTMLResponse(html, status_code=status_code, headers=security_headers(nonce))


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(
        url, status.HTTP_303_SEE_OTHER, headers=security_headers(secrets.token_urlsafe(16))
    )


async def _posted(
    request: Request, access: ConsoleAccess, service: Service
) -> tuple[Session, Agent, dict[str, str]] | HTMLResponse:
    """The session, agent and fields of a form post; a 403 page without a valid CSRF token."""
    fields = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    signed_in = await access.signed_in(request, service.db)
    if signed_in is None or not signed_in[0].csrf_matches(fields.get("csrf_token")):
        return _page(
            "message.html",
            status_code=status.HTTP_403_FORBIDDEN,
            agent=signed_in[1] if signed_in else None,
            title="Forbidden",
            message="This form has expired or did not come from the console. Reload the page and try again.",
        )
    return signed_in[0], signed_in[1], fields


async def _posted_on_case(
    request: Request, access: ConsoleAccess, service: Service, case_id: str
) -> tuple[Session, Agent, dict[str, str]] | HTMLResponse:
    """A form post on a case: `_posted`'s answer, or a 404 page when the case is not in the
    agent's queues."""
    posted = await _posted(request, access, service)
    if isinstance(posted, HTMLResponse):
        return posted
    session, agent, _fields = posted
    async with service.db.session() as db:
        if not await _may_work_case(db, agent, case_id):
            return _not_found(session, agent)
    return posted


def _not_found(session: Session, agent: Agent) -> HTMLResponse:
    return _page(
        "message.html",
        status_code=status.HTTP_404_NOT_FOUND,
        session=session,
        agent=agent,
        title="No such case",
        message="There is no such case in your queues.",
    )


async def _case_page(
    db: AsyncSession,
    rules: Rules,
    session: Session,
    agent: Agent,
    case_id: str,
    *,
    form: ResolveForm | None = None,
    reply_form: ReplyForm | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    record = await case_record(db, case_id) if _ID.match(case_id) else None
    if record is None or not agent.may_work(record.case.queue):
        return _not_found(session, agent)
    return _page(
        "case.html",
        status_code=status_code,
        session=session,
        agent=agent,
        case=record.case,
        answers=record.answers,
        history=record.history,
        current_tier=record.current_tier,
        clock=_countdown(rules, record.case, utcnow()),
        form=form or ResolveForm(),
        reply_form=reply_form or ReplyForm(),
        reply_max=REPLY_MAX_CHARS,
        reply_locale=next((answer.locale for answer in record.answers if answer.locale), None),
        problem=problem,
        resolutions=RESOLUTION_CODES,
        currencies=sorted(CURRENCIES),
    )


async def _case_again(
    service: Service,
    rules: Rules,
    session: Session,
    agent: Agent,
    case_id: str,
    status_code: int,
    **shown: Any,
) -> HTMLResponse:
    """The case page again after a refused form: what the agent entered and why (`shown`)."""
    async with service.db.session() as db:
        return await _case_page(db, rules, session, agent, case_id, status_code=status_code, **shown)


async def _work_on_case(
    service: Service,
    rules: Rules,
    session: Session,
    agent: Agent,
    case_id: str,
    work: Callable[..., Awaitable[object]],
    anchor: str = "",
    **shown: Any,
) -> Response:
    """Do `work(uow, case_id)` on the case in a unit of work and show the case again (at
    `anchor`); a conflict (resolved, another's claim, an erased customer) is a 409 on the page,
    with what the agent entered (`shown`)."""
    try:
        async with service.work() as uow:
            await work(uow, case_id)
    except CaseConflict as conflict:
        return await _case_again(
            service, rules, session, agent, case_id, status.HTTP_409_CONFLICT, problem=str(conflict), **shown
        )
    return _redirect(f"/console/cases/{case_id}{anchor}")


async def _may_work_case(db: AsyncSession, agent: Agent, case_id: str) -> bool:
    if not _ID.match(case_id):
        return False
    queue = await case_queue(db, case_id)
    return queue is not None and agent.may_work(queue)


login_router = public_router(prefix="/console", include_in_schema=False)
"""The console's login page, for anyone."""
router = session_router(prefix="/console", include_in_schema=False)
"""The console's other routes under `/console`: signed-in agents (`ConsoleAccess`), not the API
token; each handler sends anyone else to the login page."""


@login_router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, access: CurrentConsoleAccess, service: CurrentService) -> Response:
    if await access.signed_in(request, service.db) is not None:
        return _redirect("/console")
    session = access.signer.new(None)
    response = _page("login.html", session=session, agent=None, problem=None, login="")
    access.attach(response, session, request)
    return response


@login_router.post("/login")
async def login(request: Request, access: CurrentConsoleAccess, service: CurrentService) -> Response:
    fields = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    session = access.signer.of(request)
    login_name = fields.get("login", "")[:100]
    headers: dict[str, str] = {}
    if session is None or not session.csrf_matches(fields.get("csrf_token")):
        code, problem = status.HTTP_403_FORBIDDEN, "The login form has expired. Please try again."
        session = access.signer.new(None)
    else:
        address = request.client.host if request.client else ""
        try:
            agent = await access.log_in(service.db, login_name, fields.get("password", ""), address)
        except Throttled as throttled:
            log.info("console_login_throttled", retry_after=throttled.seconds)
            code, headers = status.HTTP_429_TOO_MANY_REQUESTS, {"Retry-After": str(throttled.seconds)}
            problem = f"Too many wrong passwords. Try again in {countdown_text(throttled.seconds)}."
        except Busy:
            code, headers = status.HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": "1"}
            problem = "Too many logins at once. Try again in a second."
        else:
            if agent is not None:
                log.info("console_login", agent=agent.login)
                response: Response = _redirect("/console")
                access.attach(response, await access.begin(service.db, agent), request)  # a new CSRF token
                return response
            log.info("console_login_failed")
            code, problem = status.HTTP_401_UNAUTHORIZED, "Wrong login or password."
    response = _page(
        "login.html", status_code=code, session=session, agent=None, problem=problem, login=login_name
    )
    response.headers.update(headers)
    access.attach(response, session, request)
    return response


@router.post("/logout")
async def logout(request: Request, access: CurrentConsoleAccess, service: CurrentService) -> Response:
    posted = await _posted(request, access, service)
    if isinstance(posted, Response):
        return posted
    await access.end(service.db, posted[0])
    response = _redirect("/console/login")
    access.signer.clear(response)
    return response


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request,
    access: CurrentConsoleAccess,
    rules: CurrentRules,
    db: ReadSession,
    service: CurrentService,
    queue: str | None = None,
) -> Response:
    signed_in = await access.signed_in(request, service.db)
    if signed_in is None:
        return _redirect("/console/login")
    session, agent = signed_in
    visible = [rule.name for rule in rules.queues if agent.may_work(rule.name)]
    cases = await open_cases(db, visible, queue, QUEUE_LIMIT)
    now = utcnow()
    return _page(
        "queue.html",
        session=session,
        agent=agent,
        rows=[(case, _countdown(rules, case, now)) for case in cases],
        queues=visible,
        queue=queue or "",
        now=now,
        chart=await console_chart(db),
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    case_id: str,
    access: CurrentConsoleAccess,
    db: ReadSession,
    service: CurrentService,
    rules: CurrentRules,
) -> Response:
    signed_in = await access.signed_in(request, service.db)
    if signed_in is None:
        return _redirect("/console/login")
    return await _case_page(db, rules, *signed_in, case_id)


@router.post("/cases/{case_id}/claim")
async def claim_case(
    request: Request, case_id: str, access: CurrentConsoleAccess, service: CurrentService, rules: CurrentRules
) -> Response:
    posted = await _posted_on_case(request, access, service, case_id)
    if isinstance(posted, Response):
        return posted
    session, agent, _fields = posted
    return await _work_on_case(
        service, rules, session, agent, case_id, partial(claim, agent=agent.login, take_over=agent.supervisor)
    )


@router.post("/cases/{case_id}/resolve")
async def resolve_case(
    request: Request, case_id: str, access: CurrentConsoleAccess, service: CurrentService, rules: CurrentRules
) -> Response:
    posted = await _posted_on_case(request, access, service, case_id)
    if isinstance(posted, Response):
        return posted
    session, agent, fields = posted
    form = read_resolve_form(fields)
    if form.compensation is not None and not agent.may_compensate(form.compensation):
        limit = agent.limit_text(form.compensation.currency)
        form.errors["amount"] = f"Above your limit of {limit} for one case: a supervisor resolves it."
        form.compensation = None
    if form.errors:
        return await _case_again(
            service, rules, session, agent, case_id, status.HTTP_422_UNPROCESSABLE_CONTENT, form=form
        )
    work = partial(
        resolve,
        agent=agent.login,
        resolution=form.resolution,
        note=form.note or None,
        compensation=form.compensation,
        take_over=agent.supervisor,
    )
    return await _work_on_case(service, rules, session, agent, case_id, work, form=form)


@router.post("/cases/{case_id}/reply")
async def reply_to_customer(
    request: Request, case_id: str, access: CurrentConsoleAccess, service: CurrentService, rules: CurrentRules
) -> Response:
    """A personal reply to the customer, mailed by outreach in the case's thread."""
    posted = await _posted_on_case(request, access, service, case_id)
    if isinstance(posted, Response):
        return posted
    session, agent, fields = posted
    form = read_reply_form(fields)
    if form.errors:
        return await _case_again(
            service, rules, session, agent, case_id, status.HTTP_422_UNPROCESSABLE_CONTENT, reply_form=form
        )
    work = partial(
        reply,
        agent=agent.login,
        agent_name=agent.name,
        reply_id=form.reply_id,
        message=form.message,
        take_over=agent.supervisor,
    )
    return await _work_on_case(service, rules, session, agent, case_id, work, "#history", reply_form=form)


TIMELINE_LIMIT = 200
"""The most lines a customer page shows, newest first."""


async def _may_read_customer(db: AsyncSession, agent: Agent, customer_id: str) -> bool:
    """A supervisor, or an agent of every queue, reads any customer; an agent of some queues the
    customers who have a case in one of them."""
    if agent.supervisor or agent.queues is None:
        return True
    return bool(await customer_queues(db, customer_id) & agent.queues)


@router.get("/customers", response_class=HTMLResponse)
async def customer_search(
    request: Request,
    access: CurrentConsoleAccess,
    db: ReadSession,
    service: CurrentService,
    email_hash: CurrentEmailHash,
    q: str = "",
) -> Response:
    """Find a customer by id or email: their page, or the search form saying nobody was found."""
    signed_in = await access.signed_in(request, service.db)
    if signed_in is None:
        return _redirect("/console/login")
    session, agent = signed_in
    wanted = q.strip()[:254]
    if "@" in wanted:
        found = await customer_by_email(db, email_hash(wanted))
    else:
        found = wanted if _ID.match(wanted) else None
    readable = found is not None and await _may_read_customer(db, agent, found)
    if readable and found is not None and await customer_record(db, found, 1) is not None:
        return _redirect(f"/console/customers/{found}")
    return _page(
        "customer_search.html",
        status_code=status.HTTP_404_NOT_FOUND if wanted else status.HTTP_200_OK,
        session=session,
        agent=agent,
        q=wanted,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(
    request: Request, customer_id: str, access: CurrentConsoleAccess, db: ReadSession, service: CurrentService
) -> Response:
    """One customer on one page: orders, refunds, points, referrals, tier, messages, answers and
    cases, newest first."""
    signed_in = await access.signed_in(request, service.db)
    if signed_in is None:
        return _redirect("/console/login")
    session, agent = signed_in
    allowed = _ID.match(customer_id) and await _may_read_customer(db, agent, customer_id)
    record = await customer_record(db, customer_id, TIMELINE_LIMIT) if allowed else None
    if record is None:
        return _page(
            "message.html",
            status_code=status.HTTP_404_NOT_FOUND,
            session=session,
            agent=agent,
            title="No such customer",
            message="There is no such customer, or none with a case in your queues.",
        )
    return _page("customer.html", session=session, agent=agent, record=record)
