"""The console's resolve form: resolution codes and the checks on what an agent typed, each with a
message the page can show next to the field."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from wom_contracts import Money

__all__ = [
    "CURRENCIES",
    "NOTE_MAX_CHARS",
    "REPLY_MAX_CHARS",
    "RESOLUTION_CODES",
    "ReplyForm",
    "ResolveForm",
    "read_reply_form",
    "read_resolve_form",
]

RESOLUTION_CODES: dict[str, str] = {
    "refunded": "Refunded",
    "replaced": "Replaced",
    "apologised": "Apologised",
    "explained": "Explained",
    "no_action": "No action needed",
}
"""Stable reason codes an agent can resolve a case with, and how the page names them."""

NOTE_MAX_CHARS = 5000
REPLY_MAX_CHARS = 2000
"""A personal reply is a few sentences (the contract's limit)."""
_REPLY_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MAX_WHOLE_DIGITS = 9  # compensation is goodwill, not a wire transfer: up to 999,999,999.99

_ISO_4217 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF
GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
"""
CURRENCIES = frozenset(_ISO_4217.split())
"""Active ISO 4217 currency codes."""


@dataclass
class ResolveForm:
    """What the agent entered (to show it again) and what is wrong with it, by field."""

    resolution: str = ""
    note: str = ""
    amount: str = ""
    currency: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    compensation: Money | None = None


def _compensation(amount_text: str, currency: str, errors: dict[str, str]) -> Money | None:
    if not amount_text and not currency:
        return None
    if not amount_text:
        errors["amount"] = "Enter the amount of the compensation, or clear the currency."
    if not currency:
        errors["currency"] = "Enter the currency of the compensation, e.g. EUR."
    elif currency not in CURRENCIES:
        errors["currency"] = f"“{currency}” is not an ISO 4217 currency code (e.g. EUR, USD, GBP)."
    if not amount_text:
        return None
    try:
        amount = Decimal(amount_text.replace(" ", ""))
    except InvalidOperation:
        errors["amount"] = "The amount must be a number such as 15.00."
        return None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int):
        errors["amount"] = "The amount must be a number such as 15.00."
    elif amount < 0:
        errors["amount"] = "The amount cannot be negative."
    elif exponent < -2:
        errors["amount"] = "The amount can have at most 2 decimal places."
    elif amount.adjusted() >= _MAX_WHOLE_DIGITS:
        errors["amount"] = "The amount is too large."
    if "amount" in errors or "currency" in errors:
        return None
    return Money(amount=abs(amount).quantize(Decimal("0.01")), currency=currency)  # abs: no "-0.00"


def read_resolve_form(fields: dict[str, str]) -> ResolveForm:
    """Check a submitted resolve form: a known resolution, a note of at most 5,000 characters, and
    either no compensation or a non-negative amount with at most 2 decimals in an ISO currency."""
    form = ResolveForm(
        resolution=fields.get("resolution", "").strip(),
        note=fields.get("note", "").strip(),
        amount=fields.get("amount", "").strip(),
        currency=fields.get("currency", "").strip().upper(),
    )
    if form.resolution not in RESOLUTION_CODES:
        form.errors["resolution"] = "Choose a resolution."
    if len(form.note) > NOTE_MAX_CHARS:
        form.errors["note"] = f"The note is {len(form.note)} characters long; at most {NOTE_MAX_CHARS}."
    form.compensation = _compensation(form.amount, form.currency, form.errors)
    return form


@dataclass
class ReplyForm:
    """A personal reply being written: its id (made when the form is shown, so that sending it
    twice is one reply), the words, and what is wrong with them."""

    reply_id: str = field(default_factory=lambda: secrets.token_hex(16))
    message: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def read_reply_form(fields: dict[str, str]) -> ReplyForm:
    """Check a submitted reply: a reply id as the form made it, and 1 to 2,000 characters."""
    # a browser sends a textarea's line breaks as CRLF (HTML's form encoding): the mail has its own
    message = fields.get("message", "").replace("\r\n", "\n").strip()
    form = ReplyForm(reply_id=fields.get("reply_id", "").strip(), message=message)
    if not _REPLY_ID.fullmatch(form.reply_id):
        form.errors["message"] = "This form has no valid reply id: reload the page and write again."
        form.reply_id = ReplyForm().reply_id
    if not form.message:
        form.errors["message"] = "Write the reply before sending it."
    elif len(form.message) > REPLY_MAX_CHARS:
        form.errors["message"] = (
            f"The reply is {len(form.message)} characters long; at most {REPLY_MAX_CHARS}."
        )
    return form
