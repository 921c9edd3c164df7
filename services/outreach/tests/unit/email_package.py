"""The reference for outreach's mail: how it was composed before it was composed directly, with
Python's `email` package (`EmailChannel.compose` up to 0e70004, unchanged but for its ties to the
channel), and flattened as aiosmtplib's `send_message` flattened it for a relay with 8BITMIME.
The composer's tests hold today's mails to it; the mail bench times it."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import Policy
from email.utils import make_msgid

from aiosmtplib.email import flatten_message
from outreach.channels import Outgoing


def mail_as_the_email_package_wrote_it(out: Outgoing, mail_from: str) -> bytes:
    """The bytes of the mail for `out`, as they went to the relay."""
    assert out.recipient
    rendered = out.rendered
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = out.recipient
    mail["Subject"] = rendered.subject
    mail["Message-ID"] = make_msgid(idstring=out.message_id, domain="wom.localhost")
    mail["X-Wom-Message-Id"] = out.message_id
    mail["X-Wom-Kind"] = out.kind
    if out.message_class == "marketing" and out.unsubscribe_url:
        mail["List-Unsubscribe"] = _VerbatimHeader("List-Unsubscribe", f"<{out.unsubscribe_url}>")
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(rendered.text)
    mail.add_alternative(rendered.html, subtype="html")
    mail["Content-Language"] = rendered.locale  # after the body: set_content drops Content-*
    return flatten_message(mail, utf8=False, cte_type="8bit")


class _VerbatimHeader(str):
    """A header written as given (the standard policy would encode a long URL in angle brackets)."""

    name: str
    max_count = None

    def __new__(cls, name: str, value: str) -> _VerbatimHeader:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"
