"""The support console over HTTP (ASGI, no browser): login, CSRF, the queue's order, the case page,
claim and resolve through the forms, and the checks on compensation. Cases are opened with
`feedback.cases.open_case`, as the answer handler does."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from feedback.app import create_app
from feedback.console.agents import Agents, hash_password, load_agents, main, verify_password
from feedback.console.forms import read_resolve_form
from feedback.console.routes import countdown_text
from feedback.console.sessions import Session, SessionSigner
from feedback.models import Case, CaseEvent
from feedback.rules import DEFAULT_RULES_FILE, load_rules
from feedback.settings import FeedbackSettings
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from wom_chassis import RulesError, Service, utcnow
from wom_contracts import CaseRepliedV1, CaseResolvedV1, CustomerErasedV1, Money
from wom_testkit import (
    database_backends,
    emitted,
    empty_database_url,
    in_memory_service,
    publish_event,
    rules_file,
)

from ..conftest import seed_case

AGENTS = {"ana": "ana-password", "carl": "carl-password", "ben": "ben-password", "sam": "sam-password"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_agents(path: Path) -> Path:
    """Four agents (cheap hashes, tests only): ana and carl see every queue, ben only `delivery`;
    carl compensates up to 20.00 EUR alone; sam is a supervisor."""
    lines = []
    for login, password in AGENTS.items():
        lines += [
            f"- login: {login}",
            f"  name: {login.capitalize()}",
            f'  password_hash: "{hash_password(password, n=2**10)}"',
        ]
        if login == "ben":
            lines.append("  queues: [delivery]")
        if login == "carl":
            lines.append('  compensation_limit: {EUR: "20.00"}')
        if login == "sam":
            lines.append("  role: supervisor")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=database_backends())
async def feedback(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    url = await empty_database_url(request.param, tmp_path)
    settings = FeedbackSettings(
        database_url=url,
        api_token="t",
        feedback_agents_file=write_agents(tmp_path / "agents.yaml"),
        feedback_session_secret="test-secret",
    )
    async with in_memory_service(create_app(settings)) as service:
        yield service


def client(service: Service) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=service.http), base_url="http://test")


async def open_case(
    service: Service,
    customer: str,
    *,
    priority: str = "P3",
    due_in: timedelta = timedelta(hours=72),
    queue: str = "support",
    comment: str | None = "Parcel arrived late.",
    tier: str | None = None,
    key_client: bool = False,
    signals: tuple[str, ...] = (),
) -> str:
    """A detractor answer of `customer` and the case it opens; returns the case id."""
    return await seed_case(
        service,
        customer,
        rules=load_rules(),
        sla_due_at=utcnow() + due_in,
        priority=priority,
        queue=queue,
        comment=comment,
        tier=tier,
        key_client=key_client,
        signals=signals,
    )


async def csrf_of(http: AsyncClient, url: str) -> str:
    page = await http.get(url)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def log_in(http: AsyncClient, login: str = "ana") -> None:
    token = await csrf_of(http, "/console/login")
    answer = await http.post(
        "/console/login", data={"login": login, "password": AGENTS[login], "csrf_token": token}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console", answer.text


async def case_row(service: Service, case_id: str) -> Case:
    async with service.db.session() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    return case


# --- login, sessions, CSRF -----------------------------------------------------------------------


async def test_pages_need_a_login_and_carry_security_headers(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    async with client(feedback) as http:
        for url in ("/console", f"/console/cases/{case_id}"):
            answer = await http.get(url)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
        login = await http.get("/console/login")
        unauthenticated_post = await http.post(f"/console/cases/{case_id}/claim", data={"csrf_token": "x"})
    assert unauthenticated_post.status_code == 403
    assert login.status_code == 200
    policy = login.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'") and "frame-ancestors 'none'" in policy
    assert "http" not in policy  # no external host
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None and f'<script nonce="{nonce.group(1)}">' in login.text
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["referrer-policy"] == "no-referrer"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert (await case_row(feedback, case_id)).status == "open"


async def test_wrong_password_and_unknown_login_get_the_same_401(feedback: Service) -> None:
    async with client(feedback) as http:
        answers = []
        for login, password in (("ana", "wrong"), ("nobody", "wrong"), ("ana", "")):
            token = await csrf_of(http, "/console/login")
            data = {"login": login, "password": password, "csrf_token": token}
            answers.append(await http.post("/console/login", data=data))
        still_out = await http.get("/console")
    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert all("Wrong login or password." in answer.text for answer in answers)
    assert still_out.status_code == 303


async def test_forms_without_the_sessions_csrf_token_are_refused(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    async with client(feedback) as http:
        no_token_login = await http.post("/console/login", data={"login": "ana", "password": AGENTS["ana"]})
        assert no_token_login.status_code == 403
        await log_in(http)
        missing = await http.post(f"/console/cases/{case_id}/claim")
        wrong = await http.post(f"/console/cases/{case_id}/claim", data={"csrf_token": "forged"})
        resolve = await http.post(
            f"/console/cases/{case_id}/resolve", data={"resolution": "explained", "csrf_token": ""}
        )
        logout = await http.post("/console/logout", data={})
        still_in = await http.get("/console")
    assert [missing.status_code, wrong.status_code, resolve.status_code, logout.status_code] == [403] * 4
    assert "did not come from the console" in missing.text
    assert still_in.status_code == 200
    assert (await case_row(feedback, case_id)).status == "open"
    assert await emitted(feedback, CaseResolvedV1) == []


async def test_logout_ends_the_session(feedback: Service) -> None:
    async with client(feedback) as http:
        await log_in(http)
        token = await csrf_of(http, "/console")
        answer = await http.post("/console/logout", data={"csrf_token": token})
        after = await http.get("/console")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert after.status_code == 303


def test_session_cookies_are_signed_and_expire() -> None:
    signer = SessionSigner("test-secret")
    session = signer.new("ana", now=1000)
    value = signer.dumps(session)
    assert signer.loads(value, now=1001) == session
    assert signer.loads(value, now=session.expires) is None
    forged = signer.dumps(Session(login="carl", csrf=session.csrf, expires=session.expires))
    assert SessionSigner("another-secret").loads(forged, now=1001) is None
    payload, signature = value.split(".")
    assert signer.loads(f"{forged.split('.')[0]}.{signature}", now=1001) is None
    for junk in ("", "x", "a.b.c", f"{payload}.", "!!.??"):
        assert signer.loads(junk, now=1001) is None


# --- agents ----------------------------------------------------------------------------------------


def test_password_hashes_describe_themselves_and_verify(tmp_path: Path) -> None:
    encoded = hash_password("s3cret")
    scheme, n, r, p, salt, key = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1") and salt and key
    assert verify_password("s3cret", encoded) and not verify_password("s3cret ", encoded)
    assert hash_password("s3cret") != encoded  # salted
    for malformed in ("", "plain", "scrypt$3$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5", "bcrypt$x"):
        assert not verify_password("s3cret", malformed)
    agents = load_agents(write_agents(tmp_path / "agents.yaml"))
    assert agents.authenticate("ana", "ana-password") is not None
    assert agents.authenticate("ana", "carl-password") is None
    assert agents.authenticate("nobody", "ana-password") is None
    assert len(load_agents(None)) == 0 and isinstance(load_agents(None), Agents)


def test_a_bad_agents_file_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("- login: ana\n  name: Ana\n  password_hash: plain-text\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"0\.password_hash"):
        load_agents(path)
    good = hash_password("x", n=2**10)
    path.write_text(f'- {{login: ana, name: A, password_hash: "{good}"}}\n' * 2, encoding="utf-8")
    with pytest.raises(RulesError, match="logins must be unique"):
        load_agents(path)


def test_the_hash_command_reads_the_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["hash"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password("correct horse", printed)
    assert main(["other"]) == 2


def test_the_demo_agents_file_logs_in_demo_and_olga() -> None:
    agents = load_agents(Path(__file__).parents[2] / "agents.demo.yaml")
    assert agents.authenticate("demo", "demo") is not None
    assert agents.authenticate("olga", "olga") is not None
    assert agents.authenticate("demo", "olga") is None


# --- the queue and the case page ------------------------------------------------------------------


async def test_the_queue_lists_open_cases_by_priority_then_deadline(feedback: Service) -> None:
    late_p3 = await open_case(feedback, "c-p3", priority="P3", due_in=timedelta(hours=1))
    later_p1 = await open_case(feedback, "c-p1-later", priority="P1", due_in=timedelta(hours=3))
    p2 = await open_case(feedback, "c-p2", priority="P2", due_in=timedelta(minutes=30), queue="delivery")
    sooner_p1 = await open_case(
        feedback, "c-p1-sooner", priority="P1", due_in=timedelta(hours=2), tier="vip", key_client=True
    )
    overdue_p3 = await open_case(feedback, "c-p3-overdue", priority="P3", due_in=timedelta(minutes=-5))
    done = await open_case(feedback, "c-done", priority="P1", due_in=timedelta(hours=1))
    async with feedback.work() as uow:
        case = await uow.session.get(Case, done)
        assert case is not None
        case.status, case.open_for = "resolved", None
    async with client(feedback) as http:
        await log_in(http)
        page = await http.get("/console")
        delivery = await http.get("/console", params={"queue": "delivery"})
    assert page.status_code == 200
    assert re.findall(r'data-case-id="([^"]+)"', page.text) == [sooner_p1, later_p1, p2, overdue_p3, late_p3]
    assert re.findall(r'data-case-id="([^"]+)"', delivery.text) == [p2]
    row = page.text.split(f'data-case-id="{sooner_p1}"')[1].split("</tr>")[0]
    assert "vip" in row and "key client" in row and "c-p1-sooner" in row
    remaining = re.search(r'data-remaining="(\d+)">1h 5\dm \d\ds<', row)
    assert remaining is not None and 7000 < int(remaining.group(1)) <= 7200
    overdue = page.text.split(f'data-case-id="{overdue_p3}"')[1].split("</tr>")[0]
    assert "overdue 0h 0" in overdue


async def test_an_agent_sees_and_works_only_their_queues(feedback: Service) -> None:
    support = await open_case(feedback, "c-support", queue="support")
    delivery = await open_case(feedback, "c-delivery", queue="delivery")
    async with client(feedback) as http:
        await log_in(http, "ben")
        page = await http.get("/console")
        foreign = await http.get(f"/console/cases/{support}")
        token = await csrf_of(http, f"/console/cases/{delivery}")
        claim = await http.post(f"/console/cases/{support}/claim", data={"csrf_token": token})
    assert re.findall(r'data-case-id="([^"]+)"', page.text) == [delivery]
    assert foreign.status_code == 404 and claim.status_code == 404
    assert (await case_row(feedback, support)).status == "open"


async def test_the_case_page_shows_answers_tier_signals_and_history(feedback: Service) -> None:
    case_id = await open_case(
        feedback,
        "c-1",
        comment="Box <b>crushed</b> & late",
        tier="gold",
        key_client=True,
        signals=("damaged",),
    )
    async with client(feedback) as http:
        await log_in(http)
        page = await http.get(f"/console/cases/{case_id}")
        missing = await http.get("/console/cases/no-such-case")
        bad_id = await http.get("/console/cases/%3Cscript%3E")
    assert page.status_code == 200
    assert "Box &lt;b&gt;crushed&lt;/b&gt; &amp; late" in page.text  # escaped, never markup
    assert "NPS 2" in page.text and "detractor" in page.text
    assert re.search(r'id="tier">gold\s*<span class="badge key">key client', page.text)
    assert '<span class="badge">damaged</span>' in page.text
    history = page.text.split('id="history"')[1]
    assert "<td>opened</td>" in history and "priority: P3" in history
    assert missing.status_code == 404 and bad_id.status_code == 404


# --- claim and resolve ------------------------------------------------------------------------------


async def test_claim_and_resolve_with_compensation_through_the_forms(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    async with client(feedback) as http:
        await log_in(http)
        claimed = await http.post(f"{url}/claim", data={"csrf_token": await csrf_of(http, url)})
        assert claimed.status_code == 303 and claimed.headers["location"] == url
        after_claim = await http.get(url)
        assert "claimed (claimed by ana)" in after_claim.text and "<td>claimed</td>" in after_claim.text
        form = {
            "csrf_token": await csrf_of(http, url),
            "resolution": "refunded",
            "note": "Refunded shipping, sorry!",
            "amount": "15",
            "currency": "eur",
        }
        resolved = await http.post(f"{url}/resolve", data=form)
        assert resolved.status_code == 303
        page = await http.get(url)
        again = await http.post(f"{url}/resolve", data={**form, "csrf_token": await csrf_of(http, url)})
    assert "€15.00" in page.text and "refunded by ana" in page.text and "<td>resolved</td>" in page.text
    assert again.status_code == 409 and "already resolved" in again.text
    [event] = await emitted(feedback, CaseResolvedV1)
    assert event.case_id == case_id and event.resolution == "refunded" and event.resolved_by == "ana"
    assert event.compensation == Money(amount=Decimal("15.00"), currency="EUR")
    assert event.note == "Refunded shipping, sorry!"
    async with client(feedback) as http:  # a resolved case leaves the queue
        await log_in(http)
        assert case_id not in (await http.get("/console")).text


async def test_a_case_claimed_by_someone_else_is_a_conflict_on_the_page(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    async with client(feedback) as ana, client(feedback) as carl:
        await log_in(ana)
        await log_in(carl, "carl")
        carl_token = await csrf_of(carl, url)
        await ana.post(f"{url}/claim", data={"csrf_token": await csrf_of(ana, url)})
        claim = await carl.post(f"{url}/claim", data={"csrf_token": carl_token})
        resolve = await carl.post(
            f"{url}/resolve", data={"csrf_token": carl_token, "resolution": "explained", "note": "mine"}
        )
    assert claim.status_code == 409 and "is claimed by ana" in claim.text
    assert resolve.status_code == 409 and "is claimed by ana" in resolve.text
    assert ">mine</textarea>" in resolve.text  # what carl typed is kept
    case = await case_row(feedback, case_id)
    assert case.status == "claimed" and case.claimed_by == "ana"


REPLY_ID = re.compile(r'name="reply_id" value="([^"]+)"')


async def reply_form(http: AsyncClient, url: str) -> dict[str, str]:
    """The reply form's hidden fields as the case page gives them."""
    page = await http.get(url)
    token, reply_id = CSRF.search(page.text), REPLY_ID.search(page.text)
    assert token is not None and reply_id is not None, page.text
    return {"csrf_token": token.group(1), "reply_id": reply_id.group(1)}


async def replies_in_history(service: Service, case_id: str) -> list[CaseEvent]:
    async with service.db.session() as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "replied")
        return list((await session.scalars(query)).all())


async def test_a_personal_reply_is_published_once_signed_and_kept_in_the_history(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    words = "I'm so sorry, Maria.\nA new parcel left this morning — Ana"
    async with client(feedback) as http:
        await log_in(http)
        form = {**await reply_form(http, url), "message": f"  {words}  "}
        sent = await http.post(f"{url}/reply", data=form)
        twice = await http.post(f"{url}/reply", data=form)  # a double click, a resent form
        page = await http.get(url)
    assert sent.status_code == twice.status_code == 303
    assert sent.headers["location"] == f"{url}#history"
    [event] = await emitted(feedback, CaseRepliedV1)
    assert (event.customer_id, event.case_id, event.message) == ("c-1", case_id, words)
    assert event.agent_name == "Ana" and event.reply_id == form["reply_id"]
    [line] = await replies_in_history(feedback, case_id)
    assert line.actor == "ana" and line.detail == {"reply_id": form["reply_id"], "message": words}
    assert "<td>replied</td>" in page.text and "A new parcel left this morning" in page.text
    assert (await case_row(feedback, case_id)).status == "open", "a reply neither claims nor resolves"


@pytest.mark.parametrize(
    ("message", "problem"),
    [("   ", "Write the reply before sending it."), ("x" * 2001, "at most 2000")],
)
async def test_an_empty_or_overlong_reply_is_refused_on_the_page(
    feedback: Service, message: str, problem: str
) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    async with client(feedback) as http:
        await log_in(http)
        answer = await http.post(f"{url}/reply", data={**await reply_form(http, url), "message": message})
    assert answer.status_code == 422 and problem in answer.text
    assert await emitted(feedback, CaseRepliedV1) == []


async def test_a_reply_on_a_case_claimed_by_another_agent_is_a_conflict_but_a_supervisor_may(
    feedback: Service,
) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    async with client(feedback) as ana, client(feedback) as carl, client(feedback) as sam:
        await log_in(ana)
        await log_in(carl, "carl")
        await log_in(sam, "sam")
        await ana.post(f"{url}/claim", data={"csrf_token": await csrf_of(ana, url)})
        refused = await carl.post(f"{url}/reply", data={**await reply_form(carl, url), "message": "Hi!"})
        allowed = await sam.post(f"{url}/reply", data={**await reply_form(sam, url), "message": "Hi!"})
    assert refused.status_code == 409 and "is claimed by ana" in refused.text
    assert ">Hi!</textarea>" in refused.text  # what carl wrote is kept
    assert allowed.status_code == 303
    [event] = await emitted(feedback, CaseRepliedV1)
    assert event.agent_name == "Sam"


async def test_erasure_removes_the_replies_words_and_no_reply_can_follow(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    async with client(feedback) as http:
        await log_in(http)
        await http.post(f"{url}/reply", data={**await reply_form(http, url), "message": "Sorry, Maria!"})
        form = await reply_form(http, url)
        await publish_event(feedback.broker, CustomerErasedV1(customer_id="c-1", requested_at=utcnow()))
        after = await http.post(f"{url}/reply", data={**form, "message": "Are you there?"})
        page = await http.get(url)
    [line] = await replies_in_history(feedback, case_id)
    assert line.detail is None and line.actor == "ana"  # that a reply was sent, not its words
    assert after.status_code == 409 and "asked to be forgotten" in after.text
    assert "Sorry, Maria" not in page.text and 'id="reply-form"' not in page.text
    assert len(await emitted(feedback, CaseRepliedV1)) == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "-1", "currency": "EUR"}, "amount", "cannot be negative"),
        ({"amount": "1.234", "currency": "EUR"}, "amount", "at most 2 decimal places"),
        ({"amount": "ten", "currency": "EUR"}, "amount", "must be a number"),
        ({"amount": "NaN", "currency": "EUR"}, "amount", "must be a number"),
        ({"amount": "1e12", "currency": "EUR"}, "amount", "too large"),
        ({"amount": "10", "currency": "EU"}, "currency", "not an ISO 4217 currency"),
        ({"amount": "10", "currency": "XYZ"}, "currency", "not an ISO 4217 currency"),
        ({"amount": "10", "currency": ""}, "currency", "Enter the currency"),
        ({"amount": "", "currency": "EUR"}, "amount", "Enter the amount"),
        ({"resolution": "bribed"}, "resolution", "Choose a resolution"),
        ({"note": "x" * 5001}, "note", "at most 5000"),
    ],
)
def test_resolve_form_checks(fields: dict[str, str], field: str, message: str) -> None:
    form = read_resolve_form({"resolution": "refunded", **fields})
    assert list(form.errors) == [field] and message in form.errors[field]
    assert form.compensation is None


def test_resolve_form_accepts_no_compensation_or_a_valid_one() -> None:
    assert read_resolve_form({"resolution": "explained"}).compensation is None
    form = read_resolve_form({"resolution": "replaced", "amount": " 0 ", "currency": " usd "})
    assert not form.errors and form.compensation == Money(amount=Decimal("0.00"), currency="USD")


async def test_compensation_errors_are_shown_on_the_page_and_nothing_happens(feedback: Service) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    async with client(feedback) as http:
        await log_in(http)
        token = await csrf_of(http, url)
        answers = [
            await http.post(
                f"{url}/resolve",
                data={"csrf_token": token, "resolution": "refunded", "note": "n", **compensation},
            )
            for compensation in ({"amount": "12.345", "currency": "EUR"}, {"amount": "5", "currency": "ZZZ"})
        ]
    assert [answer.status_code for answer in answers] == [422, 422]
    assert 'id="amount-error">The amount can have at most 2 decimal places.' in answers[0].text
    assert 'value="12.345"' in answers[0].text  # what the agent typed is kept
    assert answers[0].headers["x-frame-options"] == "DENY"
    assert 'id="currency-error">“ZZZ” is not an ISO 4217 currency code' in answers[1].text
    assert (await case_row(feedback, case_id)).status == "open"
    assert await emitted(feedback, CaseResolvedV1) == []


async def test_a_supervisor_works_every_queue_and_takes_over_a_claimed_case(feedback: Service) -> None:
    support = await open_case(feedback, "c-support", queue="support")
    delivery = await open_case(feedback, "c-delivery", queue="delivery")
    url = f"/console/cases/{support}"
    async with client(feedback) as ana, client(feedback) as sam, client(feedback) as ben:
        await log_in(ana)
        await ana.post(f"{url}/claim", data={"csrf_token": await csrf_of(ana, url)})
        await log_in(sam, "sam")
        queue = await sam.get("/console")
        page = await sam.get(url)
        taken = await sam.post(f"{url}/claim", data={"csrf_token": await csrf_of(sam, url)})
        await log_in(ben)  # an agent: no take-over button, and the server refuses it
        ben_url = f"/console/cases/{delivery}"
        await sam.post(f"{ben_url}/claim", data={"csrf_token": await csrf_of(sam, ben_url)})
        ben_page = await ben.get(ben_url)
        refused = await ben.post(f"{ben_url}/claim", data={"csrf_token": await csrf_of(ben, ben_url)})
    assert set(re.findall(r'data-case-id="([^"]+)"', queue.text)) == {support, delivery}  # every queue
    assert "Sam (sam, supervisor)" in queue.text
    assert 'id="take-over"' in page.text and "ana works on this case" in page.text
    assert taken.status_code == 303 and (await case_row(feedback, support)).claimed_by == "sam"
    async with feedback.db.session() as session:
        lines = (await session.scalars(select(CaseEvent).where(CaseEvent.case_id == support))).all()
    assert [(line.kind, line.actor, line.detail) for line in lines if line.kind == "taken_over"] == [
        ("taken_over", "sam", {"from_agent": "ana"})
    ]
    assert 'id="take-over"' not in ben_page.text
    assert refused.status_code == 409 and (await case_row(feedback, delivery)).claimed_by == "sam"


async def test_compensation_above_an_agent_s_limit_is_refused_and_a_supervisor_grants_it(
    feedback: Service,
) -> None:
    case_id = await open_case(feedback, "c-1")
    url = f"/console/cases/{case_id}"
    form = {"resolution": "refunded", "note": "sorry", "currency": "EUR"}
    async with client(feedback) as carl, client(feedback) as sam:
        await log_in(carl, "carl")
        page = await carl.get(url)
        above = await carl.post(
            f"{url}/resolve", data={**form, "amount": "20.01", "csrf_token": await csrf_of(carl, url)}
        )
        other = await carl.post(
            f"{url}/resolve",
            data={**form, "amount": "1", "currency": "USD", "csrf_token": await csrf_of(carl, url)},
        )
        await log_in(sam, "sam")
        granted = await sam.post(
            f"{url}/resolve", data={**form, "amount": "40", "csrf_token": await csrf_of(sam, url)}
        )
    assert 'id="limit">Your limit for one case: €20.00; above it a supervisor resolves the case.' in page.text
    assert above.status_code == 422
    assert (
        'id="amount-error">Above your limit of 20.00 EUR for one case: a supervisor resolves it.'
        in above.text
    )
    assert other.status_code == 422 and "Above your limit of 0.00 USD" in other.text  # no limit in USD: none
    assert granted.status_code == 303
    [event] = await emitted(feedback, CaseResolvedV1)
    assert (event.resolved_by, event.compensation) == ("sam", Money(amount=Decimal("40.00"), currency="EUR"))


def test_roles_and_limits_of_the_agents_file(tmp_path: Path) -> None:
    agents = load_agents(write_agents(tmp_path / "agents.yaml"))
    carl, sam, ana = agents.get("carl"), agents.get("sam"), agents.get("ana")
    assert carl is not None and sam is not None and ana is not None
    assert (carl.role, sam.role, sam.supervisor, carl.supervisor) == ("agent", "supervisor", True, False)
    assert carl.may_compensate(Money(amount=Decimal("20.00"), currency="EUR"))
    assert not carl.may_compensate(Money(amount=Decimal("20.01"), currency="EUR"))
    assert sam.may_compensate(Money(amount=Decimal("999999"), currency="EUR")) and ana.may_compensate(
        Money(amount=Decimal("999999"), currency="EUR")
    )
    path = tmp_path / "bad.yaml"
    hashed = hash_password("x", n=2**10)
    for extra, message in (
        ("  role: supervisor\n  queues: [support]", "a supervisor works every queue"),
        ("  role: boss", "role"),
        ('  compensation_limit: {EUR: "-1"}', "compensation_limit"),
        ('  compensation_limit: {euro: "5"}', "compensation_limit"),
    ):
        path.write_text(f'- login: x\n  name: X\n  password_hash: "{hashed}"\n{extra}\n', encoding="utf-8")
        with pytest.raises(RulesError, match=message):
            load_agents(path)


async def test_the_countdown_counts_the_queue_s_working_hours_and_stands_still_at_the_weekend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = {
        "time_zone": "Europe/Chisinau",
        "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    }
    changes = {"calendars": {"office": office}, "queues": [{"name": "support", "calendar": "office"}]}
    settings = FeedbackSettings(
        database_url=await empty_database_url("sqlite", tmp_path),
        api_token="t",
        feedback_agents_file=write_agents(tmp_path / "agents.yaml"),
        feedback_session_secret="test-secret",
        feedback_rules_file=rules_file(tmp_path, DEFAULT_RULES_FILE, changes),
    )
    monday_11 = datetime(2026, 12, 7, 9, tzinfo=UTC)  # 11:00 in Chisinau
    async with in_memory_service(create_app(settings)) as feedback:
        case_id = await seed_case(
            feedback,
            "c-1",
            rules=load_rules(settings.feedback_rules_file),
            sla_due_at=monday_11,
            priority="P2",
            queue="support",
        )
        async with client(feedback) as http:
            await log_in(http)
            pages = {}
            for name, now in (
                ("saturday", datetime(2026, 12, 5, 10, tzinfo=UTC)),
                ("monday", monday_11 - timedelta(hours=1)),
            ):
                monkeypatch.setattr("feedback.console.routes.utcnow", lambda now=now: now)
                pages[name] = (
                    (await http.get("/console")).text,
                    (await http.get(f"/console/cases/{case_id}")).text,
                )
    for text in pages["saturday"]:  # two hours of Monday morning left, on hold until then
        assert re.search(
            r'data-remaining="7200" data-paused>2h 00m 00s</span> <small class="paused">', text
        ), text
    for text in pages["monday"]:
        assert 'data-remaining="3600">1h 00m 00s</span>' in text and "data-paused>" not in text


def test_countdowns_read_as_days_hours_minutes_seconds() -> None:
    assert countdown_text(3725) == "1h 02m 05s"
    assert countdown_text(-61) == "overdue 0h 01m 01s"
    assert countdown_text(90061) == "1d 1h 01m 01s"
