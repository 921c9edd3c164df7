"""API credentials: each client's token with a name and scopes, presented as a bearer token
(programs) or as the password of HTTP Basic (people in a browser). A route declares the scope it
needs (`guarded_router`) or says it is public (`public_router`); the token is checked before the
request's body is read, and the handler learns who called (`CurrentCredential`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import tomllib
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response, Security, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from pydantic import TypeAdapter, ValidationError
from starlette.requests import HTTPConnection
from wom_contracts import EVERY_SCOPE

from wom_chassis.api_errors import ApiError, ErrorBody, error_responses
from wom_chassis.settings import ApiTokenEntry, SecretsRefused, ServiceSettings

__all__ = [
    "API_TOKEN_NAME",
    "CHALLENGES",
    "PUBLIC",
    "SESSION",
    "Credential",
    "Credentials",
    "CurrentCredential",
    "IdPath",
    "TokenRequired",
    "authorize",
    "guarded_router",
    "install_challenges",
    "public_router",
    "read_tokens_file",
    "session_router",
    "token_digest",
]

API_TOKEN_NAME = "api-token"
"""The name of the credential `API_TOKEN` makes."""
PUBLIC = "public"
"""The access of a route that answers without credentials (deploy/public-routes.yaml says why)."""
SESSION = "session"
"""The access of a page for people signed in to a service's own login, which its handler checks."""

CHALLENGES = ('Basic realm="wom", charset="UTF-8"', 'Bearer realm="wom"')
"""What a 401 asks for, one `WWW-Authenticate` field each, Basic first: RFC 9110 allows several
challenges in one field, but Chromium reads one challenge a field, so `Bearer, Basic realm=…`
never brought up its login prompt and a page protected by the token could not be opened."""


@dataclass(frozen=True, slots=True)
class Credential:
    """Who called: the name recorded with what it changes, and what it may do."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return EVERY_SCOPE in self.scopes or scope in self.scopes


def token_digest(token: str) -> str:
    """What a tokens file keeps of a token: its SHA-256 in hex. A token is 32 random bytes or
    more, so a fast hash is enough: there is nothing to guess a token from."""
    return hashlib.sha256(token.encode()).hexdigest()


_ENTRIES = TypeAdapter(list[ApiTokenEntry])


class Credentials:
    """The credentials a service admits, as digests: `API_TOKEN`, `API_TOKENS` and the entries of
    `API_TOKENS_FILE` together."""

    def __init__(self, entries: Iterable[tuple[str, Credential]] = ()) -> None:
        self._entries = [(bytes.fromhex(digest), credential) for digest, credential in entries]
        names: dict[bytes, str] = {}
        for digest, credential in self._entries:
            if names.setdefault(digest, credential.name) != credential.name:
                raise SecretsRefused([f"one token is given to both {names[digest]} and {credential.name}"])

    @classmethod
    def of(cls, settings: ServiceSettings) -> Credentials:
        """The service's credentials; `SecretsRefused` names what is wrong with a tokens file."""
        entries = list(settings.api_tokens)
        if settings.api_tokens_file is not None:
            entries += read_tokens_file(settings.api_tokens_file)
        found = [(e.sha256, Credential(e.name, frozenset(e.scopes))) for e in entries]
        token = settings.api_token.get_secret_value() if settings.api_token else ""
        if token:  # an empty token is none: it would match an empty one
            found.append(
                (token_digest(token), Credential(API_TOKEN_NAME, frozenset(settings.api_token_scopes)))
            )
        return cls(found)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def identify(self, token: str) -> Credential | None:
        """The credential `token` belongs to, comparing with every digest in constant time."""
        if not token:
            return None
        digest, found = hashlib.sha256(token.encode()).digest(), None
        for known, credential in self._entries:
            if hmac.compare_digest(digest, known):
                found = credential
        return found


def read_tokens_file(path: FilePath) -> list[ApiTokenEntry]:
    """The entries of a tokens file; `SecretsRefused` says what is wrong with it."""
    variable = f"API_TOKENS_FILE {path}"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = _ENTRIES.validate_python(document.get("tokens", []))
    except OSError as error:
        raise SecretsRefused([f"{variable} cannot be read: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise SecretsRefused([f"{variable} is not TOML: {error}"]) from None
    except ValidationError as error:
        problems = [f"tokens[{'.'.join(map(str, e['loc']))}]: {e['msg']}" for e in error.errors()]
        raise SecretsRefused([f"{variable}: " + "; ".join(problems)]) from None
    if not entries:  # a file named and empty is a mistake, not a wish to admit nobody
        raise SecretsRefused([f"{variable} holds no [[tokens]]"])
    return entries


class TokenRequired(ApiError):
    """No API token, or the wrong one: a 401 that challenges for each scheme the token is taken in."""

    def __init__(self, detail: str, code: str = "token_required") -> None:
        # without the chassis' handler (an app of its own), the Basic challenge alone
        super().__init__(
            status.HTTP_401_UNAUTHORIZED, detail, code, headers={"WWW-Authenticate": CHALLENGES[0]}
        )


# Security schemes declared in the OpenAPI document only: the guard reads the header itself
# (FastAPI's own classes refuse a malformed Basic header before the guard can answer it).
class _BearerScheme(HTTPBearer):
    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


class _BasicScheme(HTTPBasic):
    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        return None


_BEARER = _BearerScheme(scheme_name="token", description="an API token as a bearer token")
_BASIC = _BasicScheme(
    scheme_name="tokenAsPassword", description="HTTP Basic with an API token as password (any user name)"
)


def token_security(scope: str) -> list[Any]:
    """Dependencies that declare the two ways a token is presented, either will do, each naming
    the scope the route needs (OpenAPI 3.1 lists it in the security requirement)."""
    return [Security(_BEARER, scopes=[scope]), Security(_BASIC, scopes=[scope])]


async def _challenge(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TokenRequired)
    body = ErrorBody(detail=str(error.detail), code=error.code).model_dump()
    response = JSONResponse(body, status_code=error.status_code)
    for challenge in CHALLENGES:
        response.headers.append("WWW-Authenticate", challenge)
    return response


def install_challenges(app: FastAPI) -> None:
    """Answer `TokenRequired` with one `WWW-Authenticate` field per scheme."""
    app.add_exception_handler(TokenRequired, _challenge)


IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""A path parameter holding an opaque id (the contracts' id syntax); anything else is a 422."""


def authorize(request: Request, scope: str) -> Credential:
    """The credential of `request` if it holds `scope`: `Authorization: Bearer <token>`, or HTTP
    Basic with the token as password (any user name), so pages open in a browser's login prompt.
    401 without a known token, 403 when its credential lacks the scope."""
    credentials: Credentials = request.app.state.service.credentials
    if not credentials:
        raise TokenRequired("no API credential is configured on this service", "token_not_configured")
    given = _presented_token(request.headers.get("authorization", ""))
    credential = credentials.identify(given) if given else None
    if credential is None:
        raise TokenRequired("missing or wrong API token (Bearer, or HTTP Basic with the token as password)")
    if not credential.allows(scope):
        raise ApiError(
            status.HTTP_403_FORBIDDEN,
            f"the credential {credential.name!r} does not hold the scope {scope!r} this needs",
            "scope_required",
        )
    request.state.credential = credential
    return credential


def _presented_token(authorization: str) -> str | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def _current_credential(request: Request) -> Credential:
    credential: Credential | None = getattr(request.state, "credential", None)
    if credential is None:  # only a guarded route's handler may ask
        raise RuntimeError("CurrentCredential on a route that is not guarded")
    return credential


CurrentCredential = Annotated[Credential, Depends(_current_credential)]
"""Who called a guarded route (its name is what a state change records)."""


class _Guarded(APIRoute):
    """A route that checks the token and its scope before anything else: FastAPI reads and parses
    a body before it solves dependencies, so a guard among them would let a caller without the
    token have the body parsed (and a malformed one answered 422 rather than 401)."""

    access: ClassVar[str]
    """The scope the route needs (what the route enumeration test reads)."""
    signed_by: ClassVar[str | None] = None
    """A header that, when present, stands in for the token: the handler verifies it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        scope, signed_by = self.access, self.signed_by

        async def token_first(request: Request) -> Response:
            if signed_by is None or signed_by not in request.headers:
                authorize(request, scope)
            return await handler(request)

        return token_first


class _Public(APIRoute):
    access: ClassVar[str] = PUBLIC


class _Session(APIRoute):
    access: ClassVar[str] = SESSION


def guarded_router(scope: str, *, signed_by: str | None = None, **options: Any) -> APIRouter:
    """A router whose every endpoint needs a token holding `scope` (declared, with its 401 and
    403), checked before the request's body is read. With `signed_by`, a request carrying that
    header is let through to the handler, which verifies the signature in place of the token."""
    route_class = type(
        f"Needs_{scope.replace(':', '_')}", (_Guarded,), {"access": scope, "signed_by": signed_by}
    )
    return APIRouter(
        dependencies=token_security(scope),
        responses=error_responses(401, 403),
        route_class=route_class,
        **options,
    )


def public_router(**options: Any) -> APIRouter:
    """A router of endpoints that answer without credentials; each must be listed with its
    reason in deploy/public-routes.yaml (the route enumeration test holds both to that)."""
    return APIRouter(route_class=_Public, **options)


def session_router(**options: Any) -> APIRouter:
    """A router of pages for people signed in to the service's own login (a session cookie, not
    an API token): each handler checks the session and sends anyone else to the login page."""
    return APIRouter(route_class=_Session, **options)
