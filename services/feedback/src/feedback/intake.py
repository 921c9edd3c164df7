"""The HTTP intake of survey answers: authenticated by an API token holding `intake:write` or a
survey tool's HMAC signature, validated as the event contract, and published through the outbox,
so answers from HTTP and from Kafka run one code path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError
from wom_chassis import CurrentService, get_logger, guarded_router
from wom_chassis.api_errors import ApiError, error_responses
from wom_chassis.signatures import signature_is_valid
from wom_contracts import ResponseSubmittedV1, Scope

from feedback.dependencies import CurrentSettings
from feedback.settings import FeedbackSettings

__all__ = ["router"]

log = get_logger(__name__)


class Accepted(BaseModel):
    """The answer was accepted and will be processed like any answer from Kafka."""

    response_id: str
    event_id: str


def _signed(settings: FeedbackSettings, signature: str, timestamp: str | None, body: bytes) -> bool:
    secret = settings.feedback_intake_secret.get_secret_value() if settings.feedback_intake_secret else ""
    # an empty secret is none: anyone can sign with the empty key
    return bool(secret) and signature_is_valid(secret, timestamp, signature, body)


SIGNATURE_HEADER = "X-Wom-Signature"
_SIGNATURE = APIKeyHeader(
    name=SIGNATURE_HEADER,
    scheme_name="intakeSignature",
    description="a survey tool's HMAC-SHA256 of X-Wom-Timestamp and the body, keyed by "
    "FEEDBACK_INTAKE_SECRET",
    auto_error=False,
)
_BODY = {
    "required": True,
    "content": {"application/json": {"schema": ResponseSubmittedV1.model_json_schema()}},
}


router = guarded_router(Scope.INTAKE_WRITE, signed_by=SIGNATURE_HEADER)
"""`POST /responses`: one survey answer, as the `feedback.response.submitted.v1` data. A request
with a signature header is let through without a token: the handler verifies the signature."""


# the body is read as bytes (the signature covers them), so it is declared by hand
@router.post(
    "/responses",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400),
    openapi_extra={"requestBody": _BODY},
)
async def submit_response(
    request: Request,
    service: CurrentService,
    settings: CurrentSettings,
    x_wom_signature: Annotated[str | None, Security(_SIGNATURE)] = None,
    x_wom_timestamp: Annotated[str | None, Header()] = None,
) -> Accepted:
    body = await request.body()  # within HTTP_MAX_BODY_BYTES: the signature covers the bytes
    if x_wom_signature is not None and not _signed(settings, x_wom_signature, x_wom_timestamp, body):
        raise ApiError(status.HTTP_401_UNAUTHORIZED, "bad, expired or unexpected signature", "bad_signature")
    try:
        body.decode()
    except UnicodeDecodeError:
        raise ApiError(status.HTTP_400_BAD_REQUEST, "the body is not UTF-8", "body_not_utf8") from None
    try:
        event = ResponseSubmittedV1.model_validate_json(body)
    except ValidationError as error:
        if any(problem["type"] == "json_invalid" for problem in error.errors()):
            raise ApiError(status.HTTP_400_BAD_REQUEST, "the body is not JSON", "body_not_json") from None
        problems = [
            {**problem, "loc": ("body", *problem["loc"])}
            for problem in error.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(problems) from None
    async with service.work() as uow:
        event_id = uow.emit(event)
    credential = getattr(request.state, "credential", None)  # none when the signature let it in
    log.info(
        "response_accepted", response_id=event.response_id, by=credential.name if credential else "signed"
    )
    return Accepted(response_id=event.response_id, event_id=event_id)
