"""Unsubscribe links: a signed token per customer, and the public pages behind
`<outreach_public_url>/unsubscribe/<token>`.

The token is the credential, so the endpoints need no API token. It does not expire: a link in
an old email must keep working. GET only shows a confirmation form, because mail scanners follow
links; POST (the page's form, or a mailbox provider's RFC 8058 one-click request) unsubscribes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from html import escape

from fastapi.responses import HTMLResponse
from wom_chassis import CurrentService, get_logger, public_router
from wom_chassis.errors import error_code

from outreach.dependencies import CurrentSettings, CurrentUnsubscribe
from outreach.settings import OutreachSettings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "customer_of_token",
    "router",
    "unsubscribe_token",
    "unsubscribe_url",
]

log = get_logger(__name__)

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

_PURPOSE = b"wom.outreach.unsubscribe.v1\x00"  # the key signs nothing else with these bytes
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{2,86})\.([A-Za-z0-9_-]{43})$")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # only the canonical spelling: one token per customer and key
        raise ValueError("not canonical base64url")
    return raw


def _mac(secret: str, customer_id: str) -> bytes:
    if not secret:
        raise ValueError("the unsubscribe secret is empty")
    return hmac.new(secret.encode(), _PURPOSE + customer_id.encode(), hashlib.sha256).digest()


def unsubscribe_token(secret: str, customer_id: str) -> str:
    """A URL-safe token naming `customer_id`, signed with HMAC-SHA256 under `secret`."""
    if not _CUSTOMER_ID.match(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    return f"{_b64(customer_id.encode())}.{_b64(_mac(secret, customer_id))}"


def customer_of_token(secret: str, token: str) -> str | None:
    """The customer id a token was signed for, or None when it is malformed or its signature is wrong."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    try:
        customer_id = _unb64(match[1]).decode()
        given = _unb64(match[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not _CUSTOMER_ID.match(customer_id):
        return None
    return customer_id if hmac.compare_digest(given, _mac(secret, customer_id)) else None


def unsubscribe_url(settings: OutreachSettings, customer_id: str) -> str:
    """The customer's unsubscribe link: `<outreach_public_url>/unsubscribe/<token>`."""
    token = unsubscribe_token(settings.outreach_unsubscribe_secret.get_secret_value(), customer_id)
    return f"{settings.outreach_public_url.rstrip('/')}/unsubscribe/{token}"


# Each page: (title, English text, short lines in other languages as (lang, text)).
_Page = tuple[str, str, tuple[tuple[str, str], ...]]

_CONFIRM: _Page = (
    "Unsubscribe from marketing emails?",
    "You will keep receiving messages about your orders and your account.",
    (
        ("ru", "Отписаться от рекламных писем? Письма о заказах будут приходить как прежде."),
        (
            "ro",
            "Vă dezabonați de la e-mailurile de marketing? Mesajele despre comenzi vor sosi în continuare.",
        ),
        ("sv", "Avregistrera dig från marknadsföringsmejl? Beställningsmeddelanden kommer som vanligt."),
    ),
)
_DONE: _Page = (
    "You are unsubscribed",
    "You will no longer receive marketing emails from us. Messages about your orders and your "
    "account still arrive.",
    (
        ("ru", "Вы отписались от рекламных писем."),
        ("ro", "V-ați dezabonat de la e-mailurile de marketing."),
        ("sv", "Du är nu avregistrerad från marknadsföringsmejl."),
    ),
)
_NOT_FOUND: _Page = (
    "This unsubscribe link is not valid",
    "Please open the link from the email again, making sure it was copied completely.",
    (
        ("ru", "Эта ссылка для отписки недействительна."),
        ("ro", "Acest link de dezabonare nu este valid."),
        ("sv", "Den här avregistreringslänken är inte giltig."),
    ),
)
_TRY_AGAIN: _Page = (
    "Something went wrong",
    "We could not unsubscribe you just now. Please try again in a few minutes.",
    (
        ("ru", "Не удалось отписаться. Попробуйте ещё раз через несколько минут."),
        ("ro", "Dezabonarea nu a reușit. Încercați din nou peste câteva minute."),
        ("sv", "Avregistreringen misslyckades. Försök igen om några minuter."),
    ),
)
_FORM = (
    '<form method="post">'  # no action: it posts back to this page's own URL, whatever the prefix
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Unsubscribe · Отписаться · Dezabonare · Avregistrera</button>'
    "</form>"
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "color:#222;line-height:1.5}p[lang]{color:#555;margin:.3rem 0}"
    "button{font:inherit;padding:.5rem 1rem;margin-top:1rem;cursor:pointer}"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",  # the URL is the credential
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
}


def _page(page: _Page, status_code: int, *, form: bool = False) -> HTMLResponse:
    title, text, others = page
    lines = "".join(f'<p lang="{escape(lang)}">{escape(line)}</p>' for lang, line in others)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title><style>{_STYLE}</style>'
        f"</head><body><h1>{escape(title)}</h1><p>{escape(text)}</p>{lines}{_FORM if form else ''}"
        "</body></html>"
    )
    headers = dict(_HEADERS)
    if status_code == 503:
        headers["Retry-After"] = "60"
    return HTMLResponse(html, status_code=status_code, headers=headers)


router = public_router(tags=["unsubscribe"])
"""The public unsubscribe pages: GET asks for confirmation, POST (form or RFC 8058 one-click)
calls the app's unsubscribe callback in a unit of work. Unknown contacts get the same answer as
known ones."""


def _secret(settings: OutreachSettings) -> str:
    return settings.outreach_unsubscribe_secret.get_secret_value()


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def confirm(token: str, settings: CurrentSettings) -> HTMLResponse:
    if customer_of_token(_secret(settings), token) is None:
        return _page(_NOT_FOUND, 404)
    return _page(_CONFIRM, 200, form=True)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe(
    token: str, service: CurrentService, settings: CurrentSettings, on_unsubscribe: CurrentUnsubscribe
) -> HTMLResponse:
    # The body (List-Unsubscribe=One-Click, urlencoded or multipart, or empty) is not needed:
    # a POST to a valid token is the request.
    customer_id = customer_of_token(_secret(settings), token)
    if customer_id is None:
        return _page(_NOT_FOUND, 404)
    try:
        async with service.work() as uow:
            known = await on_unsubscribe(uow, customer_id)
    except Exception as error:  # the visitor gets a page, the operator the error
        log.error("unsubscribe_failed", customer_id=customer_id, error=error_code(error))
        return _page(_TRY_AGAIN, 503)
    log.info("unsubscribed", customer_id=customer_id, known_contact=known)
    return _page(_DONE, 200)
