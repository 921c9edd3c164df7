"""Who may use the console: the agents of `FEEDBACK_AGENTS_FILE` and the signer of their session
cookies, built once when the app is (so a bad agents file stops the start with an error naming
the bad key)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from wom_chassis import get_logger

from feedback.console.agents import Agent, Agents, load_agents
from feedback.console.sessions import Session, SessionSigner
from feedback.settings import FeedbackSettings

__all__ = ["ConsoleAccess"]

log = get_logger(__name__)


@dataclass(frozen=True)
class ConsoleAccess:
    """The console's agents and session signer."""

    agents: Agents
    signer: SessionSigner

    @classmethod
    def of(cls, settings: FeedbackSettings) -> ConsoleAccess:
        """The agents file read and the signer keyed by `FEEDBACK_SESSION_SECRET`."""
        agents = load_agents(settings.feedback_agents_file)
        if not agents:
            log.warning("console_without_agents", hint="set FEEDBACK_AGENTS_FILE to let agents log in")
        return cls(agents, SessionSigner(settings.feedback_session_secret.get_secret_value()))

    def signed_in(self, request: Request) -> tuple[Session, Agent] | None:
        """The session and its agent when someone is logged in (and still configured as an agent)."""
        session = self.signer.of(request)
        if session is None or session.login is None:
            return None
        agent = self.agents.get(session.login)
        return None if agent is None else (session, agent)
