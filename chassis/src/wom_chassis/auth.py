"""Token protection for endpoints that read personal data or change state: the service's API
token as a bearer token (programs) or as the password of HTTP Basic (people in a browser)."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request, Response, Security, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.requests import HTTPConnection

from wom_chassis.api_errors import ApiError, ErrorBody, error_responses

__all__ = [
    "CHALLENGES",
    "TOKEN_SECURITY",
    "IdPath",
    "TokenRequired",
    "guarded_router",
    "install_challenges",
    "require_api_token",
]

CHALLENGES = ('Basic realm="wom", charset="UTF-8"', 'Bearer realm="wom"')
"""What a 401 asks for, one `WWW-Authenticate` field each, Basic first: RFC 9110 allows several
challenges in one field, but Chromium reads one challenge a field, so `Bearer, Basic realm=…`
never brought up its login prompt and a page protected by the token could not be opened."""


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


TOKEN_SECURITY = [
    Security(_BearerScheme(scheme_name="token", description="the service's API_TOKEN as a bearer token")),
    Security(
        _BasicScheme(
            scheme_name="tokenAsPassword",
            description="HTTP Basic with the service's API_TOKEN as password (any user name)",
        )
    ),
]
"""Dependencies that declare the two ways the API token is presented; either one will do."""


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


async def require_api_token(request: Request) -> None:
    """The dependency of every guarded route: admits `Authorization: Bearer <token>`, or HTTP
    Basic with the token as password (any user name), so pages open in a browser's login prompt.
    The token is the running service's (`API_TOKEN`), read from the app answering the request."""
    token: SecretStr | None = request.app.state.service.settings.api_token
    if token is None or not token.get_secret_value():  # an empty token would match an empty one
        raise TokenRequired("API_TOKEN is not configured on this service", "token_not_configured")
    given = _presented_token(request.headers.get("authorization", ""))
    if given is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise TokenRequired("missing or wrong API token (Bearer, or HTTP Basic with the token as password)")


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


class _TokenFirst(APIRoute):
    """A route that checks the API token before anything else: FastAPI reads and parses a body
    before it solves dependencies, so a guard among them would let a caller without the token
    have the body parsed (and a malformed one answered 422 rather than 401)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def token_first(request: Request) -> Response:
            await require_api_token(request)
            return await handler(request)

        return token_first


def guarded_router() -> APIRouter:
    """A router whose every endpoint requires the service's API token (declared, with its 401),
    checked before the request's body is read."""
    return APIRouter(dependencies=TOKEN_SECURITY, responses=error_responses(401), route_class=_TokenFirst)
