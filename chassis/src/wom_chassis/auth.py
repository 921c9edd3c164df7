"""Bearer-token protection for endpoints that read personal data or change state."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import SecretStr

__all__ = ["IdPath", "bearer_token_guard", "guarded_router"]

IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""A path parameter holding an opaque id (the contracts' id syntax); anything else is a 422."""


def bearer_token_guard(
    token: SecretStr | None,
) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A FastAPI dependency that admits only `Authorization: Bearer <token>`."""

    async def guard(request: Request) -> None:
        if token is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "API_TOKEN is not configured on this service")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.encode(), token.get_secret_value().encode()
        ):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard


def guarded_router(token: SecretStr | None) -> APIRouter:
    """A router whose every endpoint requires the service's bearer token."""
    return APIRouter(dependencies=[Depends(bearer_token_guard(token))])
