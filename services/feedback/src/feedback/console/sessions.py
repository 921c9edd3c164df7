"""Console session cookies: signed (HMAC-SHA256 over the payload), holding the agent's login, a
CSRF token, an expiry and, once an agent has logged in, the id of the session's row on the
server (`feedback.console.access`), without which the cookie signs nobody in."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["COOKIE_NAME", "Session", "SessionSigner"]

COOKIE_NAME = "wom_console"
COOKIE_PATH = "/console"
ANONYMOUS_SECONDS = 3600
"""How long a login form's CSRF token stays valid."""


@dataclass(frozen=True)
class Session:
    """Who is logged in (None: nobody yet, only a CSRF token for the login form), until when,
    and the id of their session on the server (None for nobody)."""

    login: str | None
    csrf: str
    expires: int
    sid: str | None = None

    def csrf_matches(self, given: str | None) -> bool:
        """Whether a form's token is this session's (constant-time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks session cookies with a key derived from the service's secret key."""

    def __init__(self, secret_key: str) -> None:
        # a key of its own, so a signature made here is worthless anywhere else the secret is used
        self._key = hmac.new(secret_key.encode(), b"wom-feedback-console-session", hashlib.sha256).digest()

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def new(
        self, login: str | None, *, seconds: float = ANONYMOUS_SECONDS, now: float | None = None
    ) -> Session:
        """A fresh session with a new CSRF token: an agent's, with a new session id, or an
        anonymous one for the login form."""
        return Session(
            login=login,
            csrf=secrets.token_urlsafe(32),
            expires=int((now or time.time()) + seconds),
            sid=None if login is None else secrets.token_urlsafe(32),
        )

    def dumps(self, session: Session) -> str:
        """The cookie value: `payload.signature`, both base64url."""
        body = json.dumps(
            {"l": session.login, "c": session.csrf, "e": session.expires, "s": session.sid},
            separators=(",", ":"),
        )
        payload = _b64(body.encode())
        return f"{payload}.{self._signature(payload)}"

    def loads(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session in a cookie value; None when missing, tampered with, malformed or expired."""
        if not value or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        try:
            if not hmac.compare_digest(signature.encode("ascii"), self._signature(payload).encode("ascii")):
                return None
            data = json.loads(_unb64(payload))
            session = Session(login=data["l"], csrf=data["c"], expires=int(data["e"]), sid=data.get("s"))
        except (UnicodeError, binascii.Error, ValueError, KeyError, TypeError, AttributeError):
            return None
        if not isinstance(session.csrf, str) or not isinstance(session.login, str | None):
            return None
        if (session.login is None) != (session.sid is None) or not isinstance(session.sid, str | None):
            return None
        return session if session.expires > (now or time.time()) else None

    def of(self, request: Request) -> Session | None:
        """The valid session the request carries, if any."""
        return self.loads(request.cookies.get(COOKIE_NAME))

    def attach(self, response: Response, session: Session, *, secure: bool) -> None:
        """Set the session cookie: HttpOnly, SameSite=Strict, limited to the console, `Secure`
        as the caller says (always outside development)."""
        response.set_cookie(
            COOKIE_NAME,
            self.dumps(session),
            max_age=max(0, session.expires - int(time.time())),
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    @staticmethod
    def clear(response: Response) -> None:
        """Remove the session cookie (logging out)."""
        response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="strict")
