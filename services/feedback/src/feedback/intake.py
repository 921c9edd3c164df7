"""The HTTP intake of survey answers: authenticated by the API token or a survey tool's HMAC
signature, validated as the event contract, and published through the outbox, so answers from
HTTP and from Kafka run one code path."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel, ValidationError
from wom_chassis import Service, get_logger
from wom_chassis.auth import bearer_token_guard
from wom_chassis.signatures import signature_is_valid
from wom_contracts import ResponseSubmittedV1

from feedback.settings import FeedbackSettings

__all__ = ["build_intake"]

log = get_logger(__name__)


class Accepted(BaseModel):
    """The answer was accepted and will be processed like any answer from Kafka."""

    response_id: str
    event_id: str


def _signed(settings: FeedbackSettings, signature: str, timestamp: str | None, body: bytes) -> bool:
    secret = settings.feedback_intake_secret
    return secret is not None and signature_is_valid(secret.get_secret_value(), timestamp, signature, body)


def _problems(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "(body)", "problem": e["msg"]}
        for e in error.errors()
    ]


def build_intake(service: Service, settings: FeedbackSettings) -> APIRouter:
    """`POST /responses`: one survey answer, as the `feedback.response.submitted.v1` data."""
    router = APIRouter()
    token_guard = bearer_token_guard(service.settings.api_token)

    @router.post("/responses", status_code=status.HTTP_202_ACCEPTED)
    async def submit_response(
        request: Request,
        x_wom_signature: Annotated[str | None, Header()] = None,
        x_wom_timestamp: Annotated[str | None, Header()] = None,
    ) -> Accepted:
        body = await request.body()
        if x_wom_signature is not None:
            if not _signed(settings, x_wom_signature, x_wom_timestamp, body):
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bad, expired or unexpected signature")
        else:
            await token_guard(request)
        try:
            event = ResponseSubmittedV1.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, _problems(error)) from None
        except json.JSONDecodeError:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not JSON") from None
        async with service.work() as uow:
            event_id = uow.emit(event)
        log.info("response_accepted", response_id=event.response_id, signed=x_wom_signature is not None)
        return Accepted(response_id=event.response_id, event_id=event_id)

    return router
