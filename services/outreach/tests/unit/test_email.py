"""Every kind in every locale, as outreach mails it (composed directly) and as the `email` package
composed it before: read back by the `email` package, the same headers and the same text and HTML;
on the wire, short 7-bit lines any relay takes."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from outreach.channels import EmailChannel, Outgoing
from outreach.kinds import KINDS, sample_context
from outreach.settings import OutreachSettings
from outreach.templates import Templates
from outreach.unsubscribe import unsubscribe_url
from pydantic import SecretStr
from wom_chassis.mail import MailPool

from .email_package import mail_as_the_email_package_wrote_it

LOCALES = ("en", "ru", "ro-MD", "sv")
NAMES = {"en": "Anna", "ru": "Анна", "ro-MD": "Ștefan", "sv": "Åsa"}
TEMPLATES = Templates()
SETTINGS = OutreachSettings(
    database_url="sqlite+aiosqlite:///:memory:",
    outreach_public_url="https://outreach.shop.example.com/wom-outreach",
    outreach_unsubscribe_secret=SecretStr("a-key-for-the-mail-tests"),
    mail_from="Casa Verde <hello@wom.localhost>",
)
CHANNEL = EmailChannel(SETTINGS, MailPool(SETTINGS))  # composes only: the pool is never used


def outgoing(kind: str, locale: str, first_name: str | None, *, unsubscribe: bool = True) -> Outgoing:
    marketing = KINDS[kind].message_class == "marketing"
    url = unsubscribe_url(SETTINGS, "cus_42") if marketing and unsubscribe else None
    context = {**sample_context(kind), "first_name": first_name, "unsubscribe_url": url}
    rendered = TEMPLATES.render(kind, locale, context)
    return Outgoing(
        message_id="01JD8ZQ3M5T7W9Y1B3D5F7H9K2",
        kind=kind,
        message_class=KINDS[kind].message_class,
        customer_id="cus_42",
        recipient="anna.popescu@example.com",
        locale=rendered.locale,
        rendered=rendered,
        unsubscribe_url=url,
    )


def read(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(part: EmailMessage) -> str:
    """The decoded text, line breaks as "\n" (the reference sent some parts' breaks as CRLF in
    quoted-printable and others as LF in base64; either is a line break)."""
    return str(part.get_content()).replace("\r\n", "\n")


CASES = [
    (kind, locale, name) for kind in sorted(KINDS) for locale in LOCALES for name in (NAMES[locale], None)
]


@pytest.mark.parametrize(("kind", "locale", "first_name"), CASES)
def test_the_mail_reads_as_the_email_package_wrote_it(kind: str, locale: str, first_name: str | None) -> None:
    out = outgoing(kind, locale, first_name)
    ours = CHANNEL.compose(out)
    mine, theirs = read(ours.content), read(mail_as_the_email_package_wrote_it(out, SETTINGS.mail_from))

    assert set(mine.keys()) == set(theirs.keys()) | {"Date"}, "every header of before, and a Date"
    for name in theirs:  # its header names
        if name not in ("Message-ID", "Content-Type"):
            assert mine[name] == theirs[name], name
    assert mine["Message-ID"].endswith(f".{out.message_id}@wom.localhost>")
    assert theirs["Message-ID"].endswith(f".{out.message_id}@wom.localhost>")
    marketing = KINDS[kind].message_class == "marketing"
    assert (mine["List-Unsubscribe"] is not None) is marketing
    assert mine["Content-Language"] == locale.split("-")[0]
    plain = mine.get_body(("plain",))
    assert isinstance(plain, EmailMessage) and (first_name or "") in mine["Subject"] + text_of(plain)

    assert mine.get_content_type() == theirs.get_content_type() == "multipart/alternative"
    for part, reference in zip(mine.iter_parts(), theirs.iter_parts(), strict=True):
        assert part.get_content_type() == reference.get_content_type()
        assert part.get_content_charset() == reference.get_content_charset() == "utf-8"
        assert text_of(part) == text_of(reference)
        assert not part.defects

    # on the wire: ASCII, CRLF, header lines of at most 78 but those of one token (the ids, the URL)
    assert ours.content.isascii() and not mine.defects
    head, _, body = ours.content.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
        one_token = line.startswith((b"Message-ID: <", b"List-Unsubscribe: <")) and line.count(b" ") == 1
        assert len(line) <= 78 or (one_token and len(line) <= 998), line
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert (ours.sender, ours.recipients) == ("hello@wom.localhost", ("anna.popescu@example.com",))


def test_marketing_mail_without_an_unsubscribe_link_goes_without_the_headers() -> None:
    out = outgoing("referral_ask", "ro-MD", "Ana", unsubscribe=False)
    mine = read(CHANNEL.compose(out).content)
    theirs = read(mail_as_the_email_package_wrote_it(out, SETTINGS.mail_from))
    assert mine["List-Unsubscribe"] is None and theirs["List-Unsubscribe"] is None
    assert mine["List-Unsubscribe-Post"] is None and set(mine.keys()) == set(theirs.keys()) | {"Date"}
