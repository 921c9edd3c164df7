"""One error shape for every HTTP API: a 422 is FastAPI's `{"detail": [{loc, msg, type}, ...]}`
(whether pydantic or a handler found the problem); any other error is `{"detail": str, "code": str}`,
`code` a stable snake_case string a program can branch on. Routes declare what they answer with
`error_responses`, so the OpenAPI document names every status and its body."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "ErrorBody", "error_responses", "install_error_handlers", "invalid"]


class ErrorBody(BaseModel):
    """The body of every error but a 422."""

    detail: str
    code: str


class ApiError(StarletteHTTPException):
    """An error answered as `ErrorBody`, with its own `code` (else the status' name)."""

    def __init__(
        self, status_code: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, detail, headers=headers)
        self.code = code or _code_of(status_code)


def _code_of(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def invalid(loc: Sequence[str | int], message: str, code: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's own shape, for a problem found after the parameters were parsed
    (`loc` as FastAPI writes it: `("query", "from")`, `("body", "amount")`)."""
    return RequestValidationError([{"loc": tuple(loc), "msg": message, "type": code}])


_DESCRIPTIONS = {
    400: "the request cannot be read (not JSON, not UTF-8)",
    401: "no API token, or the wrong one",
    403: "authenticated, but not allowed",
    404: "no such resource",
    409: "the request conflicts with the resource's state",
    503: "not ready",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route answers, each with `ErrorBody`; a description
    given as `s409="..."` replaces the default one."""
    return {
        status: {
            "model": ErrorBody,
            "description": descriptions.get(
                f"s{status}", _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
            ),
        }
        for status in statuses
    }


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = getattr(error, "code", None) or _code_of(error.status_code)
    body = ErrorBody(detail=str(error.detail), code=code).model_dump()
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every HTTP error but a 422 as `ErrorBody`."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
