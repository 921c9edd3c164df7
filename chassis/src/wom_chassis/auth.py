"""Bearer-token protection for endpoints that read personal data or change state."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, status
from pydantic import SecretStr

__all__ = ["bearer_token_guard"]


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
