"""Who stays in the console and who is kept out: sessions live on the server (logout, a changed
password, an agent taken out and idleness end them at once, wherever the cookie went), wrong
passwords are throttled per login and per client address with a 429 that says when to retry,
password checks are bounded, and outside development the cookie is always `Secure`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from feedback.app import create_app
from feedback.console.agents import hash_password
from feedback.console.throttle import Backoff, Busy, PasswordChecks
from feedback.models import ConsoleSession, LoginThrottle
from feedback.settings import FeedbackSettings
from httpx import Response
from sqlalchemy import func, select, update
from wom_chassis import Service, utcnow
from wom_testkit import database_backends, empty_database_url, in_memory_service

from .test_console import AGENTS, client, csrf_of, log_in, write_agents

LONG = "k" * 40


@asynccontextmanager
async def console(url: str, agents: Path, **settings: Any) -> AsyncIterator[Service]:
    defaults: dict[str, Any] = {
        "api_token": "t",
        "feedback_session_secret": "test-secret",
        "feedback_login_max_wait_seconds": 600,
    }
    built = FeedbackSettings(database_url=url, feedback_agents_file=agents, **(defaults | settings))
    async with in_memory_service(create_app(built)) as service:
        yield service


@pytest.fixture(params=database_backends())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return await empty_database_url(request.param, tmp_path)


async def attempt(service: Service, login: str, password: str, address: str = "203.0.113.7") -> Response:
    """One login from a browser of its own."""
    async with client(service) as http:
        token = await csrf_of(http, "/console/login")
        return await http.post(
            "/console/login",
            data={"login": login, "password": password, "csrf_token": token},
            headers={"X-Forwarded-For": address},  # the test client is 127.0.0.1: a trusted proxy
        )


async def count(service: Service, model: Any) -> int:
    async with service.db.session() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


# --- server-side sessions --------------------------------------------------------------------------


async def test_logout_ends_the_session_wherever_its_cookie_went(database_url: str, tmp_path: Path) -> None:
    async with console(database_url, write_agents(tmp_path / "agents.yaml")) as service:
        async with client(service) as http:
            await log_in(http)
            copied = dict(http.cookies)
            assert await count(service, ConsoleSession) == 1
            token = await csrf_of(http, "/console")
            await http.post("/console/logout", data={"csrf_token": token})
        async with client(service) as thief:
            thief.cookies.update(copied)
            replayed = await thief.get("/console")
        assert replayed.status_code == 303 and replayed.headers["location"] == "/console/login"
        assert await count(service, ConsoleSession) == 0


async def test_a_changed_password_or_a_removed_agent_ends_their_sessions(
    database_url: str, tmp_path: Path
) -> None:
    agents = write_agents(tmp_path / "agents.yaml")
    cookies: dict[str, dict[str, str]] = {}
    async with console(database_url, agents) as before:
        for login in ("ana", "carl", "ben"):
            async with client(before) as http:
                await log_in(http, login)
                cookies[login] = dict(http.cookies)
    # the operator changes ana's password and takes carl out; ben's entry stays as it was
    entries = agents.read_text().split("- login: ")
    kept = {entry.split("\n", 1)[0]: entry for entry in entries if entry}
    ana = kept["ana"].split("password_hash:")[0] + f'password_hash: "{hash_password("new", n=2**10)}"\n'
    agents.write_text("".join("- login: " + entry for entry in (ana, kept["ben"])))
    async with console(database_url, agents) as after:
        answers = {}
        for login, jar in cookies.items():
            async with client(after) as http:
                http.cookies.update(jar)
                answers[login] = (await http.get("/console")).status_code
        assert answers == {"ana": 303, "carl": 303, "ben": 200}
        assert await count(after, ConsoleSession) == 1


async def test_a_session_idle_past_the_limit_ends(database_url: str, tmp_path: Path) -> None:
    async with console(
        database_url, write_agents(tmp_path / "agents.yaml"), feedback_console_idle_minutes=30
    ) as service:
        async with client(service) as http:
            await log_in(http)
            await service_clock_back(service, timedelta(minutes=29))
            kept = await http.get("/console")  # within the limit: kept, and its last use written
            async with service.db.session() as db:
                seen = await db.scalar(select(ConsoleSession.last_seen_at))
            assert seen is not None and utcnow() - seen < timedelta(minutes=1)
            await service_clock_back(service, timedelta(minutes=31))
            ended = await http.get("/console")
        assert kept.status_code == 200
        assert ended.status_code == 303 and ended.headers["location"] == "/console/login"
        assert await count(service, ConsoleSession) == 0


async def service_clock_back(service: Service, by: timedelta) -> None:
    """As if every session had last been used `by` ago."""
    async with service.db.transaction() as db:
        await db.execute(update(ConsoleSession).values(last_seen_at=utcnow() - by))


# --- the login throttle ----------------------------------------------------------------------------


def test_the_wait_doubles_past_the_free_attempts_up_to_the_maximum() -> None:
    backoff = Backoff(free_attempts=3, max_seconds=60)
    assert [backoff.wait(failures) for failures in range(1, 11)] == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.wait(10_000) == 60
    assert Backoff(free_attempts=1, max_seconds=900, first_seconds=5).wait(3) == 20


async def test_wrong_passwords_for_one_login_are_throttled_with_a_retry_after(
    database_url: str, tmp_path: Path
) -> None:
    async with console(
        database_url,
        write_agents(tmp_path / "agents.yaml"),
        feedback_login_free_attempts=2,
        feedback_login_first_wait_seconds=60,  # a wait no loaded machine outlasts during the test
    ) as service:
        # from three addresses: the login's count, not theirs
        wrong = [await attempt(service, "ana", "wrong", address=f"198.51.100.{n}") for n in range(2)]
        right_but_early = await attempt(service, "ana", AGENTS["ana"], address="198.51.100.3")
        other_login = await attempt(service, "carl", AGENTS["carl"])
        async with service.db.session() as db:
            failures = await db.scalar(select(func.max(LoginThrottle.failures)))
        async with service.db.transaction() as db:  # as if the wait were over
            await db.execute(update(LoginThrottle).values(blocked_until=utcnow() - timedelta(seconds=1)))
        right_in_time = await attempt(service, "ana", AGENTS["ana"])
        wrong_again = await attempt(service, "ana", "wrong")
    assert [answer.status_code for answer in wrong] == [401, 401]
    assert right_but_early.status_code == 429  # the right password, but before the wait is over
    assert 55 <= int(right_but_early.headers["retry-after"]) <= 60
    assert "Too many wrong passwords. Try again in 0h 0" in right_but_early.text
    assert failures == 2  # the refused attempt was not checked, so not counted
    assert other_login.status_code == 303
    assert right_in_time.status_code == 303  # and it cleared the login's failures
    assert wrong_again.status_code == 401


async def test_wrong_passwords_from_one_address_are_throttled_across_logins(
    database_url: str, tmp_path: Path
) -> None:
    async with console(
        database_url,
        write_agents(tmp_path / "agents.yaml"),
        feedback_login_free_attempts_per_address=3,
        feedback_login_first_wait_seconds=60,
    ) as service:
        guesses = [await attempt(service, login, "wrong") for login in ("ana", "carl", "nobody")]
        same_address = await attempt(service, "ben", AGENTS["ben"])
        elsewhere = await attempt(service, "ana", AGENTS["ana"], address="203.0.113.8")
        async with service.db.session() as db:
            keys = (await db.scalars(select(LoginThrottle.key))).all()
    assert [answer.status_code for answer in guesses] == [401, 401, 401]
    assert same_address.status_code == 429 and int(same_address.headers["retry-after"]) >= 55
    assert elsewhere.status_code == 303
    assert keys and not any("203.0.113" in key or "nobody" in key or "carl" in key for key in keys)


async def test_password_checks_beyond_the_pool_and_its_queue_are_busy() -> None:
    checks = PasswordChecks(workers=1)
    release = threading.Event()

    def slow(value: str) -> str:
        release.wait(timeout=30)
        return value

    admitted = [asyncio.ensure_future(checks.run(slow, f"check-{n}")) for n in range(2)]
    await asyncio.sleep(0)  # both admitted: one checking, one waiting
    with pytest.raises(Busy):
        await checks.run(slow, "one too many")
    release.set()
    assert await asyncio.gather(*admitted) == ["check-0", "check-1"]
    assert await checks.run(str.upper, "free again") == "FREE AGAIN"


async def test_a_busy_pool_is_a_503_with_retry_after(database_url: str, tmp_path: Path) -> None:
    async with console(database_url, write_agents(tmp_path / "agents.yaml")) as service:
        access = service.http.state.console_access
        release = threading.Event()
        hold: Callable[[], bool] = lambda: release.wait(timeout=30)  # noqa: E731
        held = [asyncio.ensure_future(access.checks.run(hold)) for _ in range(4)]  # 2 workers, 2 waiting
        await asyncio.sleep(0)
        busy = await attempt(service, "ana", AGENTS["ana"])
        release.set()
        await asyncio.gather(*held)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"


# --- cookies and transport ---------------------------------------------------------------------------


async def test_outside_dev_the_cookie_is_secure_and_answers_carry_hsts(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        console(
            database_url,
            write_agents(tmp_path / "agents.yaml"),
            wom_env="prod",
            api_token=LONG,
            feedback_session_secret=LONG,
            feedback_search_secret=LONG,
            feedback_intake_secret=LONG,
            upstream_sources=["surveys"],
        ) as service,
        client(service) as http,
    ):
        form = await http.get("/console/login")  # plain HTTP: the ingress ends TLS
    assert "secure" in form.headers["set-cookie"].lower()
    assert form.headers["strict-transport-security"].startswith("max-age=")


async def test_in_dev_the_cookie_is_secure_only_over_https(database_url: str, tmp_path: Path) -> None:
    agents = write_agents(tmp_path / "agents.yaml")
    async with console(database_url, agents) as service, client(service) as http:
        plain = await http.get("/console/login")
        forwarded = await http.get("/console/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "secure" in forwarded.headers["set-cookie"].lower()
