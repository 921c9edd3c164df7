"""Token protection for endpoints that read personal data or change state: the service's API
token as a bearer token (programs) or as the password of HTTP Basic (people in a browser)."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import SecretStr

__all__ = [
    "CHALLENGES",
    "IdPath",
    "TokenRequired",
    "bearer_token_guard",
    "guarded_router",
    "install_challenges",
]

CHALLENGES = ('Basic realm="wom", charset="UTF-8"', 'Bearer realm="wom"')
"""What a 401 asks for, one `WWW-Authenticate` field each, Basic first: RFC 9110 allows several
challenges in one field, but Chromium reads one challenge a field, so `Bearer, Basic realm=…`
never brought up its login prompt and a page protected by the token could not be opened."""


class TokenRequired(HTTPException):
    """No API token, or the wrong one: a 401 that challenges for each scheme the token is taken in."""

    def __init__(self, detail: str) -> None:
        # without the chassis' handler (an app of its own), the Basic challenge alone
        super().__init__(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": CHALLENGES[0]})


async def _challenge(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TokenRequired)
    response = JSONResponse({"detail": error.detail}, status_code=error.status_code)
    for challenge in CHALLENGES:
        response.headers.append("WWW-Authenticate", challenge)
    return response


def install_challenges(app: FastAPI) -> None:
    """Answer `TokenRequired` with one `WWW-Authenticate` field per scheme."""
    app.add_exception_handler(TokenRequired, _challenge)


IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""A path parameter holding an opaque id (the contracts' id syntax); anything else is a 422."""


def bearer_token_guard(
    token: SecretStr | None,
) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A FastAPI dependency that admits `Authorization: Bearer <token>`, or HTTP Basic with the
    token as password (any user name), so pages open in a browser's login prompt."""

    async def guard(request: Request) -> None:
        if token is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "API_TOKEN is not configured on this service")
        given = _presented_token(request.headers.get("authorization", ""))
        if given is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise TokenRequired(
                "missing or wrong API token (Bearer, or HTTP Basic with the token as password)"
            )

    return guard


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


def guarded_router(token: SecretStr | None) -> APIRouter:
    """A router whose every endpoint requires the service's bearer token."""
    return APIRouter(dependencies=[Depends(bearer_token_guard(token))])
