"""The composer's bytes, read back by Python's `email` package (the default policy, as mail
tools and the test inbox read them): the same subject, names, headers and bodies that went in,
in lines any relay takes."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wom_chassis.mime import Mail, MailComposer

SENDER = "Casa Verde <hello@shop.example.com>"
SUBJECTS = [
    "Thank you, Anna",
    "Поздравляем! Ваш новый статус — «Постоянный покупатель»",
    "Felicitări! Noul tău statut: „Client fidel”",
    "Grattis Åsa! Du har gått upp en nivå",
    "Ștefan, mulțumim pentru comanda o-1042 — ai primit 42 de puncte, care te așteaptă până pe 2026-12-07",
    "Спасибо, Анна! " * 12,  # far longer than a line
    "A plain ASCII subject that is long enough that it has to be folded somewhere, twice even, so "
    "that no line is longer than seventy-eight characters",
    "x" * 300,  # one word longer than a line: written on one line, within 998
    "y" * 1200,  # longer than 998: encoded words
    "looks like =?utf-8?q?an_encoded_word?= but is not",
    "😀 four-byte characters 😀 cut nowhere 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
    "",
]


def read(mail: Mail) -> EmailMessage:
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def lines_of(mail: Mail) -> list[bytes]:
    assert mail.content.endswith(b"\r\n")
    lines = mail.content[:-2].split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines), "CRLF only, no bare CR or LF"
    return lines


def header_lines(mail: Mail, name: str) -> list[bytes]:
    """The lines of one header as written: its first and its continuation lines."""
    head = mail.content.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(n for n, line in enumerate(head) if line.startswith(name.encode() + b":"))
    end = next((n for n in range(start + 1, len(head)) if head[n][:1] != b" "), len(head))
    return head[start:end]


def encoded_words_stand_alone(mail: Mail, name: str) -> None:
    """Every RFC 2047 encoded word of a header decodes on its own: no character is cut between
    two (RFC 2047 §5; Python's parser forgives that, other mail readers do not)."""
    for word in re.findall(rb"=\?utf-8\?b\?([^?]*)\?=", b"".join(header_lines(mail, name))):
        base64.b64decode(word, validate=True).decode("utf-8")


def body_text(part: EmailMessage) -> str:
    """A part's decoded text, line breaks as "\n" (the canonical CRLF or not, they are breaks)."""
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_subject_reads_back_as_written_in_short_ascii_lines(subject: str) -> None:
    mail = MailComposer(SENDER).compose("anna@example.com", subject, "hi")
    assert read(mail)["Subject"] == subject
    assert mail.content.isascii()
    encoded_words_stand_alone(mail, "Subject")
    longest = max(len(line) for line in header_lines(mail, "Subject"))
    assert longest <= (len("Subject: ") + 300 if subject == "x" * 300 else 78)


@settings(max_examples=300, deadline=None)
@given(
    subject=st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=200),
    text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=600),
    html=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=600),
)
def test_anything_reads_back_as_written(subject: str, text: str, html: str) -> None:
    subject = " ".join(subject.split())  # a subject is one line of words
    mail = MailComposer(SENDER).compose("anna@example.com", subject, text, html, idstring="m-1")
    parsed = read(mail)
    assert parsed["Subject"] == subject
    encoded_words_stand_alone(mail, "Subject")
    plain, rich = parsed.iter_parts()
    assert body_text(plain) == (text if text.endswith("\n") else text + "\n")
    assert body_text(rich) == (html if html.endswith("\n") else html + "\n")
    assert all(len(line) <= 998 for line in lines_of(mail)) and mail.content.isascii()
    assert not parsed.defects and not plain.defects and not rich.defects


def test_text_and_html_are_alternatives_in_7bit_lines() -> None:
    text = "Привет, Анна!\n\n" + "Очень длинная строка без переносов. " * 40 + "\nКонец  \n"
    html = '<p>Salut <b>Ana</b>, mulțumim =) <a href="https://shop.example.com/?a=1&b=2">aici</a></p>\n' * 30
    mail = MailComposer(SENDER).compose("anna@example.com", "Привет", text, html)
    parsed = read(mail)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, rich = parsed.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
    assert body_text(plain) == text and body_text(rich) == html
    assert {plain["Content-Transfer-Encoding"], rich["Content-Transfer-Encoding"]} == {
        "base64",  # mostly Cyrillic
        "quoted-printable",  # mostly ASCII
    }
    assert max(len(line) for line in lines_of(mail)) <= 78 and mail.content.isascii()


def test_a_text_mail_has_one_part() -> None:
    parsed = read(MailComposer(SENDER).compose("team@support.example.com", "[P1] case c-1", "Case c-1\n"))
    assert parsed.get_content_type() == "text/plain" and not parsed.is_multipart()
    assert parsed.get_content() == "Case c-1\r\n"


def test_the_standard_headers() -> None:
    composer = MailComposer('"Maja Åström, Casa Verde" <hello@shop.example.com>')
    mail = composer.compose("anna@example.com", "Hej", "hej", "<p>hej</p>", idstring="msg_01HZX3")
    parsed = read(mail)
    assert parsed["From"].addresses[0].display_name == "Maja Åström, Casa Verde"
    assert parsed["From"].addresses[0].addr_spec == "hello@shop.example.com"
    assert parsed["To"] == "anna@example.com" and parsed["MIME-Version"] == "1.0"
    message_id = parsed["Message-ID"]
    assert message_id.startswith("<") and message_id.endswith(".msg_01HZX3@shop.example.com>")
    assert parsed["Date"].datetime.tzinfo is not None
    assert abs(parsed["Date"].datetime - datetime.now(UTC)) < timedelta(seconds=5)
    assert (mail.sender, mail.recipients, mail.smtputf8) == (
        "hello@shop.example.com",
        ("anna@example.com",),
        False,
    )
    again = composer.compose("anna@example.com", "Hej", "hej", idstring="msg_01HZX3")
    assert read(again)["Message-ID"] != message_id, "every attempt a Message-ID of its own"


def test_the_message_id_domain_comes_from_the_settings_when_set() -> None:
    from pydantic import ValidationError
    from wom_chassis.mail import MailSettings

    settings = MailSettings(mail_from=SENDER, mail_message_id_domain="mx1.wom-host.example")
    mail = settings.composer().compose("anna@example.com", "Hej", "hej", idstring="msg_1")
    assert read(mail)["Message-ID"].endswith(".msg_1@mx1.wom-host.example>")
    assert read(mail)["From"].addresses[0].addr_spec == "hello@shop.example.com"  # the sender stays
    unset = MailSettings(mail_from=SENDER).composer().compose("anna@example.com", "Hej", "hej", idstring="m")
    assert read(unset)["Message-ID"].endswith(".m@shop.example.com>")
    with pytest.raises(ValidationError, match="mail_message_id_domain"):
        MailSettings(mail_message_id_domain="not a domain")


def test_headers_given_are_written_as_given_on_one_line() -> None:
    url = "https://outreach.shop.example.com/wom-outreach/unsubscribe/" + "Y3VzXzQy." * 12
    headers = [("List-Unsubscribe", f"<{url}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    mail = MailComposer(SENDER).compose("anna@example.com", "Hi", "hi", headers=headers)
    assert f"List-Unsubscribe: <{url}>".encode() in lines_of(mail)  # verbatim: no folding, no encoding
    parsed = read(mail)
    assert parsed["List-Unsubscribe"] == f"<{url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("to", "subject", "headers"),
    [
        ("anna@example.com\r\nBcc: victim@example.com", "hi", []),
        ("anna@example.com, victim@example.com", "hi", []),
        ("Anna <anna@example.com>", "hi", []),
        ("anna@example.com", "hi\r\nBcc: victim@example.com", []),
        ("anna@example.com", "hi", [("X-Tag", "a\r\nBcc: victim@example.com")]),
        ("anna@example.com", "hi", [("X-Tag", "ünïcode")]),
        ("anna@example.com", "hi", [("X Tag", "a")]),
        ("anna@example.com", "hi", [("X-Tag", "a" * 1000)]),
    ],
)
def test_what_would_break_the_header_is_refused(
    to: str, subject: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValueError):
        MailComposer(SENDER).compose(to, subject, "hi", headers=headers)


def test_an_address_beyond_ascii_needs_smtputf8() -> None:
    mail = MailComposer(SENDER).compose("åsa@exempel.se", "Hej", "hej")
    assert mail.smtputf8 and mail.recipients == ("åsa@exempel.se",)
    assert read(mail)["To"] == "åsa@exempel.se"
    assert MailComposer("Åsa <åsa@exempel.se>").compose("a@example.com", "x", "y").smtputf8
    with pytest.raises(ValueError):
        MailComposer("not an address")


def test_the_same_mail_as_the_email_package_writes() -> None:
    """What `EmailMessage` would have sent (as aiosmtplib flattens it) reads back the same."""
    from aiosmtplib.email import flatten_message

    subject, text = "Mulțumim, Ana — ai 42 de puncte", "Salut Ana,\nmulțumim!\n" * 20
    html = "<!doctype html><p>Salut <b>Ana</b></p>\n"
    reference = EmailMessage()
    reference["From"], reference["To"], reference["Subject"] = SENDER, "ana@example.com", subject
    reference["X-Wom-Kind"] = "purchase_thank_you"
    reference.set_content(text)
    reference.add_alternative(html, subtype="html")
    reference["Content-Language"] = "ro"
    theirs = email.message_from_bytes(flatten_message(reference), policy=email.policy.default)
    headers = [("X-Wom-Kind", "purchase_thank_you"), ("Content-Language", "ro")]
    ours = read(MailComposer(SENDER).compose("ana@example.com", subject, text, html, headers=headers))
    for name in ("From", "To", "Subject", "X-Wom-Kind", "Content-Language", "MIME-Version"):
        assert ours[name] == theirs[name], name
    assert ours.get_content_type() == theirs.get_content_type() == "multipart/alternative"
    for mine, reference_part in zip(ours.iter_parts(), theirs.iter_parts(), strict=True):
        assert mine.get_content_type() == reference_part.get_content_type()
        assert body_text(mine) == body_text(reference_part)
