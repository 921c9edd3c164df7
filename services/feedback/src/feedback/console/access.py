"""Who may use the console: the agents of `FEEDBACK_AGENTS_FILE`, their sessions and the login
that opens one, built once when the app is (so a bad agents file stops the start with an error
naming the bad key).

A session lives on the server (`console_sessions`) as well as in its signed cookie: logging out
deletes the row; a session idle past `FEEDBACK_CONSOLE_IDLE_MINUTES`, past its
`FEEDBACK_CONSOLE_SESSION_HOURS`, of an agent no longer in the agents file or whose password hash
changed ends at the next request it makes. The login is throttled (`feedback.console.throttle`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, update
from starlette.requests import Request
from starlette.responses import Response
from wom_chassis import Database, get_logger, utcnow

from feedback.console.agents import Agent, Agents, load_agents
from feedback.console.sessions import Session, SessionSigner
from feedback.console.throttle import (
    Backoff,
    PasswordChecks,
    Throttled,
    ThrottleKeys,
    forget,
    record_failure,
    wait_seconds,
)
from feedback.models import ConsoleSession
from feedback.settings import FeedbackSettings

__all__ = ["ConsoleAccess"]

log = get_logger(__name__)

TOUCH_EVERY = timedelta(minutes=1)
"""A session's last use is written at most this often (not on every page)."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _credential(agent: Agent) -> str:
    return _digest(agent.password_hash)


@dataclass(frozen=True)
class ConsoleAccess:
    """The console's agents, session cookies and rows, and login throttle."""

    agents: Agents
    signer: SessionSigner
    secure_always: bool
    session_length: timedelta
    idle_limit: timedelta
    per_login: Backoff
    per_address: Backoff
    checks: PasswordChecks
    throttle_secret: bytes

    @classmethod
    def of(cls, settings: FeedbackSettings) -> ConsoleAccess:
        """The agents file read, the signer keyed by `FEEDBACK_SESSION_SECRET`, the limits set."""
        agents = load_agents(settings.feedback_agents_file)
        if not agents:
            log.warning("console_without_agents", hint="set FEEDBACK_AGENTS_FILE to let agents log in")
        secret = settings.feedback_session_secret.get_secret_value().encode()
        longest, first = settings.feedback_login_max_wait_seconds, settings.feedback_login_first_wait_seconds
        return cls(
            agents=agents,
            signer=SessionSigner(secret.decode()),
            secure_always=settings.wom_env != "dev",
            session_length=timedelta(hours=settings.feedback_console_session_hours),
            idle_limit=timedelta(minutes=settings.feedback_console_idle_minutes),
            per_login=Backoff(settings.feedback_login_free_attempts, longest, first),
            per_address=Backoff(settings.feedback_login_free_attempts_per_address, longest, first),
            checks=PasswordChecks(settings.feedback_password_checks),
            throttle_secret=hmac.new(secret, b"wom-feedback-login-throttle", hashlib.sha256).digest(),
        )

    def attach(self, response: Response, session: Session, request: Request) -> None:
        """Set the session cookie, `Secure` outside development and on HTTPS."""
        self.signer.attach(response, session, secure=self.secure_always or request.url.scheme == "https")

    async def signed_in(self, request: Request, db: Database) -> tuple[Session, Agent] | None:
        """The session and its agent when someone is logged in, their session row is live and
        they are still the agent of the agents file they logged in as; an ended session's row
        is deleted."""
        session = self.signer.of(request)
        if session is None or session.login is None or session.sid is None:
            return None
        agent = self.agents.get(session.login)
        now = utcnow()
        async with db.session() as read:
            row = await read.get(ConsoleSession, _digest(session.sid))
        if row is None:
            return None
        this_row = ConsoleSession.id_hash == row.id_hash
        if (
            agent is None
            or row.login != agent.login
            or row.credential != _credential(agent)
            or row.expires_at <= now
            or now - row.last_seen_at > self.idle_limit
        ):
            async with db.transaction() as write:
                await write.execute(delete(ConsoleSession).where(this_row))
            log.info("console_session_ended", agent=session.login)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            async with db.transaction() as write:
                await write.execute(update(ConsoleSession).where(this_row).values(last_seen_at=now))
        return session, agent

    async def log_in(self, db: Database, login: str, password: str, address: str) -> Agent | None:
        """The agent when login and password match, None when they do not (counted against the
        login and the address); `Throttled` before any check while either has to wait, and
        `throttle.Busy` when every password check slot is taken."""
        keys = ThrottleKeys.of(self.throttle_secret, login, address)
        now = utcnow()
        async with db.session() as read:
            wait = await wait_seconds(read, keys, now)
        if wait:
            raise Throttled(wait)
        agent = await self.checks.run(self.agents.authenticate, login, password)
        async with db.transaction() as write:
            if agent is None:
                await record_failure(write, keys.login, self.per_login, now)
                await record_failure(write, keys.address, self.per_address, now)
            else:
                await forget(write, keys.login)
        return agent

    async def begin(self, db: Database, agent: Agent) -> Session:
        """A new session of `agent`, its row written (and the rows of ended sessions removed)."""
        now = utcnow()
        session = self.signer.new(agent.login, seconds=self.session_length.total_seconds())
        assert session.sid is not None
        async with db.transaction() as write:
            await write.execute(
                delete(ConsoleSession).where(
                    or_(ConsoleSession.expires_at <= now, ConsoleSession.last_seen_at < now - self.idle_limit)
                )
            )
            write.add(
                ConsoleSession(
                    id_hash=_digest(session.sid),
                    login=agent.login,
                    credential=_credential(agent),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.session_length,
                )
            )
        return session

    async def end(self, db: Database, session: Session) -> None:
        """Log out: the session's row is deleted, its cookie signs nobody in any more."""
        if session.sid is not None:
            async with db.transaction() as write:
                await write.execute(
                    delete(ConsoleSession).where(ConsoleSession.id_hash == _digest(session.sid))
                )
