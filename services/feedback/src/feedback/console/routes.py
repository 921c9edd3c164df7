"""The support console's pages: login, the queue by priority and time to SLA breach, and the case
page where an agent claims and resolves a case. Server-rendered, plain forms, CSRF-checked."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from wom_chassis import Service, get_logger, utcnow
from wom_chassis.l10n import install_filters

from feedback.analytics_api import console_chart
from feedback.cases import CaseConflict, claim, resolve
from feedback.console.agents import Agent, Agents, load_agents
from feedback.console.forms import CURRENCIES, RESOLUTION_CODES, ResolveForm, read_resolve_form
from feedback.console.sessions import Session, SessionSigner
from feedback.models import Case, CaseEvent, CustomerTier
from feedback.models import Response as Answer
from feedback.rules import Rules
from feedback.settings import FeedbackSettings

__all__ = ["QUEUE_LIMIT", "build_console", "security_headers"]

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


def _remaining(due: datetime, now: datetime) -> int:
    return int((due - now).total_seconds())


def countdown_text(seconds: int) -> str:
    """Time left to the SLA deadline as the page shows it (the script counts the same way)."""
    left = abs(seconds)
    text = f"{left // 86400}d " if left >= 86400 else ""
    text += f"{left % 86400 // 3600}h {left % 3600 // 60:02d}m {left % 60:02d}s"
    return f"overdue {text}" if seconds < 0 else text


_pages.globals["countdown_text"] = countdown_text
install_filters(_pages)
_pages.globals["locale"] = "en"  # the console's words are English; its money too ("¥1,500", "€15.00")


class _Console:
    """The console's state: its service, agents, session signer and the queues of the rules."""

    def __init__(self, service: Service, rules: Rules) -> None:
        settings = service.settings
        if not isinstance(settings, FeedbackSettings):
            raise TypeError("the console needs the feedback service's settings")
        self.service = service
        self.agents: Agents = load_agents(settings.feedback_agents_file)
        self.signer = SessionSigner(settings.feedback_session_secret.get_secret_value())
        self.queues = [queue.name for queue in rules.queues]
        if not self.agents:
            log.warning("console_without_agents", hint="set FEEDBACK_AGENTS_FILE to let agents log in")

    def page(
        self, template: str, *, status_code: int = 200, session: Session | None = None, **context: Any
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        if "chart" in context:  # the chart's own <style> elements must carry the page's nonce
            context["chart"] = Markup(str(context["chart"]).replace("<style", f'<style nonce="{nonce}"'))
        html = _pages.get_template(template).render(
            nonce=nonce, csrf=session.csrf if session else "", **context
        )
        return HTMLResponse(html, status_code=status_code, headers=security_headers(nonce))

    @staticmethod
    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(
            url, status.HTTP_303_SEE_OTHER, headers=security_headers(secrets.token_urlsafe(16))
        )

    def signed_in(self, request: Request) -> tuple[Session, Agent] | None:
        """The session and its agent when someone is logged in (and still configured as an agent)."""
        session = self.signer.of(request)
        if session is None or session.login is None:
            return None
        agent = self.agents.get(session.login)
        return None if agent is None else (session, agent)

    async def posted(self, request: Request) -> tuple[Session, Agent, dict[str, str]] | HTMLResponse:
        """The session, agent and fields of a form post; a 403 page without a valid CSRF token."""
        fields = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        signed_in = self.signed_in(request)
        if signed_in is None or not signed_in[0].csrf_matches(fields.get("csrf_token")):
            return self.page(
                "message.html",
                status_code=status.HTTP_403_FORBIDDEN,
                agent=signed_in[1] if signed_in else None,
                title="Forbidden",
                message=(
                    "This form has expired or did not come from the console. Reload the page and try again."
                ),
            )
        return signed_in[0], signed_in[1], fields

    def not_found(self, session: Session, agent: Agent) -> HTMLResponse:
        return self.page(
            "message.html",
            status_code=status.HTTP_404_NOT_FOUND,
            session=session,
            agent=agent,
            title="No such case",
            message="There is no such case in your queues.",
        )

    async def queue_page(self, session: Session, agent: Agent, queue: str | None) -> HTMLResponse:
        visible = [name for name in self.queues if agent.may_work(name)]
        query = select(Case).where(Case.status != "resolved", Case.queue.in_(visible))
        if queue:
            query = query.where(Case.queue == queue)
        query = query.order_by(Case.priority, Case.sla_due_at, Case.opened_at).limit(QUEUE_LIMIT)
        async with self.service.db.session() as db:
            cases = (await db.scalars(query)).all()
        now = utcnow()
        rows = [(case, _remaining(case.sla_due_at, now)) for case in cases]
        return self.page(
            "queue.html",
            session=session,
            agent=agent,
            rows=rows,
            queues=visible,
            queue=queue or "",
            now=now,
            chart=await console_chart(self.service),
        )

    async def case_page(
        self,
        session: Session,
        agent: Agent,
        case_id: str,
        *,
        form: ResolveForm | None = None,
        problem: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        async with self.service.db.session() as db:
            case = await db.get(Case, case_id) if _ID.match(case_id) else None
            if case is None or not agent.may_work(case.queue):
                return self.not_found(session, agent)
            answers = (
                await db.scalars(
                    select(Answer).where(Answer.case_id == case_id).order_by(Answer.submitted_at)
                )
            ).all()
            history = (
                await db.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
                )
            ).all()
            current_tier = await db.get(CustomerTier, case.customer_id)
        return self.page(
            "case.html",
            status_code=status_code,
            session=session,
            agent=agent,
            case=case,
            answers=answers,
            history=history,
            current_tier=current_tier.tier if current_tier else None,
            remaining=_remaining(case.sla_due_at, utcnow()),
            form=form or ResolveForm(),
            problem=problem,
            resolutions=RESOLUTION_CODES,
            currencies=sorted(CURRENCIES),
        )

    async def may_work_case(self, agent: Agent, case_id: str) -> bool:
        if not _ID.match(case_id):
            return False
        async with self.service.db.session() as db:
            case = await db.get(Case, case_id)
        return case is not None and agent.may_work(case.queue)


def build_console(service: Service, rules: Rules) -> APIRouter:
    """The console's routes under `/console`; agents come from `FEEDBACK_AGENTS_FILE` (read now,
    so a bad file stops the start with an error naming the bad key)."""
    console = _Console(service, rules)
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        if console.signed_in(request) is not None:
            return console.redirect("/console")
        session = console.signer.new(None)
        response = console.page("login.html", session=session, agent=None, problem=None, login="")
        console.signer.attach(response, session, request)
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        session = console.signer.of(request)
        login_name = fields.get("login", "")[:100]
        if session is None or not session.csrf_matches(fields.get("csrf_token")):
            code, problem = status.HTTP_403_FORBIDDEN, "The login form has expired. Please try again."
            session = console.signer.new(None)
        else:
            agent = await run_in_threadpool(
                console.agents.authenticate, login_name, fields.get("password", "")
            )
            if agent is not None:
                log.info("console_login", agent=agent.login)
                response: Response = console.redirect("/console")
                console.signer.attach(response, console.signer.new(agent.login), request)  # a new CSRF token
                return response
            log.info("console_login_failed")
            code, problem = status.HTTP_401_UNAUTHORIZED, "Wrong login or password."
        response = console.page(
            "login.html", status_code=code, session=session, agent=None, problem=problem, login=login_name
        )
        console.signer.attach(response, session, request)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        response = console.redirect("/console/login")
        console.signer.clear(response)
        return response

    @router.get("", response_class=HTMLResponse)
    async def queue(request: Request, queue: str | None = None) -> Response:
        signed_in = console.signed_in(request)
        if signed_in is None:
            return console.redirect("/console/login")
        return await console.queue_page(*signed_in, queue)

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    async def case_page(request: Request, case_id: str) -> Response:
        signed_in = console.signed_in(request)
        if signed_in is None:
            return console.redirect("/console/login")
        return await console.case_page(*signed_in, case_id)

    @router.post("/cases/{case_id}/claim")
    async def claim_case(request: Request, case_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        session, agent, _fields = posted
        if not await console.may_work_case(agent, case_id):
            return console.not_found(session, agent)
        try:
            async with service.work() as uow:
                await claim(uow, case_id, agent.login)
        except CaseConflict as conflict:
            return await console.case_page(
                session, agent, case_id, problem=str(conflict), status_code=status.HTTP_409_CONFLICT
            )
        return console.redirect(f"/console/cases/{case_id}")

    @router.post("/cases/{case_id}/resolve")
    async def resolve_case(request: Request, case_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        session, agent, fields = posted
        if not await console.may_work_case(agent, case_id):
            return console.not_found(session, agent)
        form = read_resolve_form(fields)
        if form.errors:
            return await console.case_page(
                session, agent, case_id, form=form, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
            )
        try:
            async with service.work() as uow:
                await resolve(
                    uow,
                    case_id,
                    agent=agent.login,
                    resolution=form.resolution,
                    note=form.note or None,
                    compensation=form.compensation,
                )
        except CaseConflict as conflict:
            return await console.case_page(
                session,
                agent,
                case_id,
                form=form,
                problem=str(conflict),
                status_code=status.HTTP_409_CONFLICT,
            )
        return console.redirect(f"/console/cases/{case_id}")

    return router
