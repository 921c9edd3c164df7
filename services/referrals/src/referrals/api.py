"""HTTP endpoints of the referrals service: the public share link, codes with their share URLs,
referrals, and the review queue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from wom_chassis import (
    Credential,
    CurrentCredential,
    CurrentService,
    IdPath,
    ReadSession,
    Service,
    get_logger,
    guarded_router,
    public_router,
)
from wom_chassis.api_errors import ApiError, error_responses
from wom_chassis.paging import Page, paging
from wom_contracts import Scope

from referrals.decisions import ReviewConflict, decide_review
from referrals.dependencies import CurrentProgramme
from referrals.domain.codes import normalise_code
from referrals.domain.sharing import message_for, share_link, share_links, with_query
from referrals.models import Referral
from referrals.programme import Programme
from referrals.queries import customer_code, referral_by_id, referrals_of_customer, review_page
from referrals.share_links import visit

__all__ = ["customers_router", "decisions_router", "reviews_router", "share_link_router"]

log = get_logger(__name__)

CodePath = Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class ShareMessageView(BaseModel):
    locale: str
    subject: str
    text: str


class CodeView(BaseModel):
    """A customer's code, their share link, and a ready share URL per channel."""

    customer_id: str
    code: str
    share_url: str
    issued_at: datetime
    message: ShareMessageView
    channels: dict[str, str]


class ReferralView(BaseModel):
    referral_id: str
    friend_customer_id: str
    advocate_customer_id: str
    code: str
    source: str
    status: str
    attributed_at: datetime
    order_id: str | None
    order_total: str | None
    order_currency: str | None
    order_completed_at: datetime | None
    risk_score: int | None
    signals: list[dict[str, Any]]
    reason: str | None
    detail: str | None
    hold_until: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    reversed_at: datetime | None


class ReferralList(BaseModel):
    referrals: list[ReferralView]
    total: int


class Approval(BaseModel):
    """An operator approves a referral in review, optionally with a note; the reviewer recorded
    is the caller's credential, not a name the body gives."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000)


class Rejection(BaseModel):
    """An operator rejects a referral in review, with a note that says why; the reviewer recorded
    is the caller's credential."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, pattern=r"\S")


def _view(referral: Referral) -> ReferralView:
    amount = referral.order_amount
    return ReferralView(
        referral_id=referral.referral_id,
        friend_customer_id=referral.friend_id,
        advocate_customer_id=referral.advocate_id,
        code=referral.code,
        source=referral.source,
        status=referral.status,
        attributed_at=referral.attributed_at,
        order_id=referral.order_id,
        order_total=None if amount is None else format(Decimal(amount).quantize(Decimal("0.01")), "f"),
        order_currency=referral.order_currency,
        order_completed_at=referral.order_completed_at,
        risk_score=referral.risk_score,
        signals=referral.signals or [],
        reason=referral.reason,
        detail=referral.detail,
        hold_until=referral.hold_until,
        decided_at=referral.decided_at,
        decided_by=referral.decided_by,
        note=referral.note,
        reversed_at=referral.reversed_at,
    )


share_link_router = public_router()
"""The public share link: count the visit, send the visitor to the storefront."""


@share_link_router.get(
    "/r/{code}",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses=error_responses(429, s429="rate_limited: too many visits from this address this minute"),
)
async def follow_share_link(
    code: str, request: Request, service: CurrentService, programme: CurrentProgramme, via: str | None = None
) -> RedirectResponse:
    """A known code and an unknown one are answered alike: a 302 to the storefront with the code."""
    settings = programme.settings
    wanted = normalise_code(code)[:64]
    async with service.work() as uow:
        visited = await visit(
            uow,
            wanted,
            channel=via,
            address=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", ""),
            programme=programme,
            per_minute=settings.referrals_share_link_visits_per_minute,
        )
    if visited.retry_after is not None:
        log.info("share_link_rate_limited", retry_after=visited.retry_after)
        raise ApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many share-link visits from this address: retry in {visited.retry_after} s",
            "rate_limited",
            headers={"Retry-After": str(visited.retry_after)},
        )
    if visited.advocate_id is None:
        log.info("share_link_with_unknown_code", code=wanted)
    target = with_query(
        settings.referrals_storefront_url, **{settings.referrals_storefront_code_param: wanted}
    )
    return RedirectResponse(target, status.HTTP_302_FOUND)


_DECISION_ERRORS = error_responses(
    400, 404, 409, s409="not_in_review: the referral is not waiting for review"
)

customers_router = guarded_router(Scope.CUSTOMERS_READ)
"""A customer's code and referrals."""
reviews_router = guarded_router(Scope.REVIEWS_READ)
"""The review queue and its referrals."""
decisions_router = guarded_router(Scope.REVIEWS_DECIDE)
"""Decisions on referrals in review, recorded under the caller's credential."""


@customers_router.get("/customers/{customer_id}/code", responses=error_responses(404))
async def code_of(customer_id: IdPath, session: ReadSession, programme: CurrentProgramme) -> CodeView:
    """The customer's code, share link and per-channel share URLs in their language."""
    code, customer = await customer_code(session, customer_id)
    if code is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"customer {customer_id} has no referral code", "no_code")
    base_url = programme.settings.referrals_public_url
    locale = customer.locale if customer else "en"
    found_locale, message = message_for(locale, programme.rules.share)
    link = share_link(base_url, code.code)
    shop = programme.rules.share.shop_name
    return CodeView(
        customer_id=customer_id,
        code=code.code,
        share_url=link,
        issued_at=code.issued_at,
        message=ShareMessageView(
            locale=found_locale,
            subject=message.subject.format(shop=shop),
            text=message.text.format(shop=shop, url=link),
        ),
        channels=share_links(base_url, code.code, locale, programme.rules.share),
    )


@customers_router.get("/customers/{customer_id}/referrals")
async def referrals_of(customer_id: IdPath, session: ReadSession) -> ReferralList:
    """The referrals the customer made as advocate and the one that brought them, newest first."""
    rows = await referrals_of_customer(session, customer_id)
    return ReferralList(referrals=[_view(row) for row in rows], total=len(rows))


@reviews_router.get("/referrals/{referral_id}", responses=error_responses(404))
async def referral(referral_id: IdPath, session: ReadSession) -> ReferralView:
    found = await referral_by_id(session, referral_id)
    if found is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"no referral {referral_id}", "no_referral")
    return _view(found)


@reviews_router.get("/reviews")
async def review_queue(page: Annotated[Page, paging(maximum=500)], session: ReadSession) -> ReferralList:
    """Referrals waiting for an operator, oldest first, with their risk score and signals."""
    rows, total = await review_page(session, page)
    return ReferralList(referrals=[_view(row) for row in rows], total=total)


async def _decide(
    service: Service,
    programme: Programme,
    referral_id: str,
    decision: Approval | Rejection,
    reviewer: Credential,
    *,
    approve: bool,
) -> ReferralView:
    try:
        async with service.work() as uow:
            decided = await decide_review(
                uow,
                referral_id,
                approve=approve,
                reviewer=reviewer.name,
                note=decision.note,
                programme=programme,
            )
    except ReviewConflict as error:
        raise ApiError(status.HTTP_409_CONFLICT, str(error), "not_in_review") from None
    if decided is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"no referral {referral_id}", "no_referral")
    return _view(decided)


@decisions_router.post("/reviews/{referral_id}/approve", responses=_DECISION_ERRORS)
async def approve(
    referral_id: IdPath,
    decision: Approval,
    service: CurrentService,
    programme: CurrentProgramme,
    caller: CurrentCredential,
) -> ReferralView:
    """Approve a referral in review: it qualifies and rewards follow after the hold."""
    return await _decide(service, programme, referral_id, decision, caller, approve=True)


@decisions_router.post("/reviews/{referral_id}/reject", responses=_DECISION_ERRORS)
async def reject(
    referral_id: IdPath,
    decision: Rejection,
    service: CurrentService,
    programme: CurrentProgramme,
    caller: CurrentCredential,
) -> ReferralView:
    """Reject a referral in review with a note (`rejected_in_review`)."""
    return await _decide(service, programme, referral_id, decision, caller, approve=False)
