"""Mail as bytes, composed directly: what Python's `email` package writes for a text (and HTML)
mail, without its header objects and generator, which cost some 2 ms a mail.

- Headers (RFC 5322): CRLF, lines of at most 78 characters where the value allows it and never
  more than 998; a Subject that is not plain ASCII in RFC 2047 encoded words (UTF-8, base64);
  `From` (a display name in any script) is prepared once by the `email` package itself.
- Bodies (RFC 2045): UTF-8, quoted-printable when mostly ASCII, base64 otherwise: 7-bit lines of
  at most 76 characters, so any relay takes them, with 8BITMIME or without.
- Text and HTML: multipart/alternative (RFC 2046), the plain text first.
"""

from __future__ import annotations

import binascii
import email.policy
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import formatdate, make_msgid

__all__ = ["Mail", "MailComposer"]

CRLF = b"\r\n"
_SOFT_LIMIT = 78
"""RFC 5322's recommended line length; 998 is the limit."""
_HARD_LIMIT = 998
_BOUNDARY = b"=_wom_alternative"
"""Constant, and safe: "=_" never occurs in quoted-printable ("=" is followed by two hex digits
or a line break) nor in base64 (no "_"), the only encodings of the parts."""
_ADDRESS = re.compile(r"[^\s<>(),;:\\\"\[\]@]+@[^\s<>(),;:\\\"\[\]@]+")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_HEADER_VALUE = re.compile(r"[ -~]*")
_EW_PREFIX, _EW_SUFFIX = b"=?utf-8?b?", b"?="


@dataclass(frozen=True, slots=True)
class Mail:
    """A mail as the relay takes it: the envelope and the message's bytes."""

    sender: str
    recipients: tuple[str, ...]
    content: bytes
    smtputf8: bool = False
    """an address is not ASCII: the relay must take SMTPUTF8 (RFC 6531), headers are UTF-8"""


class MailComposer:
    """Composes mails from one sender: `From`, the envelope sender and the Message-ID's domain
    (`message_id_domain`, else the sender's) are prepared once, the Date header once a second."""

    def __init__(self, sender: str, *, message_id_domain: str | None = None) -> None:
        addresses = email.policy.SMTP.header_factory("From", sender).addresses
        if len(addresses) != 1 or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
            raise ValueError(f"the sender must be one address, not {sender!r}")
        address: Address = addresses[0]
        self.sender = address.addr_spec
        self._smtputf8 = not self.sender.isascii()
        policy = email.policy.SMTPUTF8 if self._smtputf8 else email.policy.SMTP
        self._from = policy.header_factory("From", sender).fold(policy=policy).encode()
        domain = message_id_domain or address.domain
        self._domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
        self._date_second = -1
        self._date = b""

    def compose(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
        idstring: str | None = None,
        message_id: str | None = None,
    ) -> Mail:
        """The mail to the one address `to`: its subject, `text`, and `html` as the alternative
        when given. `headers` follow the standard ones as given (printable ASCII on one line, else
        ValueError); `idstring` goes into a new Message-ID, or `message_id` is it (`thread_id`)."""
        if not _ADDRESS.fullmatch(to):
            raise ValueError(f"not one plain address: {to!r}")
        head = [
            self._from,
            b"To: ",
            to.encode(),
            CRLF,
            _unstructured("Subject", subject),
            b"Date: ",
            self._date_now(),
            CRLF,
            b"Message-ID: ",
            (message_id or make_msgid(idstring=idstring, domain=self._domain)).encode(),
            CRLF,
        ]
        head += [_verbatim(name, value) for name, value in headers]
        head.append(b"MIME-Version: 1.0\r\n")
        if html is None:
            body = _part(b"text/plain", text)
        else:
            head.append(b'Content-Type: multipart/alternative; boundary="' + _BOUNDARY + b'"\r\n')
            delimiter = CRLF + b"--" + _BOUNDARY + CRLF
            # the CRLF before a delimiter belongs to it (RFC 2046): each part keeps its own last one
            body = [
                CRLF + b"--" + _BOUNDARY + CRLF,
                *_part(b"text/plain", text),
                delimiter,
                *_part(b"text/html", html),
                CRLF + b"--" + _BOUNDARY + b"--" + CRLF,
            ]
        return Mail(self.sender, (to,), b"".join(head + body), smtputf8=self._smtputf8 or not to.isascii())

    def thread_id(self, key: str) -> str:
        """The Message-ID that starts the thread of `key` (a case, say), the same every time:
        the first mail of the thread carries it, the later ones name it in `In-Reply-To` and
        `References`, so that mail clients show them as one conversation. `key` is hashed: any
        string makes a valid id, and the id does not spell it out."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"<thread.{digest}@{self._domain}>"

    def _date_now(self) -> bytes:
        second = int(time.time())
        if second != self._date_second:
            self._date_second, self._date = second, formatdate(second, usegmt=True).encode()
        return self._date


def _verbatim(name: str, value: str) -> bytes:
    """A header as given: one line of printable ASCII (a URL in angle brackets, an id, a tag)."""
    if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
        raise ValueError(f"header {name!r}: only printable ASCII on one line can be written as given")
    line = f"{name}: {value}\r\n".encode()
    if len(line) > _HARD_LIMIT + 2:
        raise ValueError(f"header {name!r} is longer than {_HARD_LIMIT} characters")
    return line


def _unstructured(name: str, value: str) -> bytes:
    """An unstructured header (RFC 5322 §3.2.5): printable ASCII as it is, folded at spaces;
    anything else as RFC 2047 encoded words."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} may not contain a line break")
    if value.isascii() and _HEADER_VALUE.fullmatch(value) and "=?" not in value:
        line = f"{name}: {value}"
        if len(line) <= _SOFT_LIMIT:
            return line.encode() + CRLF
        folded = _folded(line)
        if folded is not None:
            return folded
    return _encoded_words(name, value)


def _folded(line: str) -> bytes | None:
    """`line` folded before spaces (unfolding gives it back), each line at most 78 characters
    where the words allow; None when a word is too long even for 998."""
    lines, start, cut = [], 0, -1
    position = line.find(" ", line.index(":") + 2)
    while position != -1:
        if position - start > _SOFT_LIMIT and cut > start:
            lines.append(line[start:cut])
            start = cut
        cut = position
        position = line.find(" ", position + 1)
    if len(line) - start > _SOFT_LIMIT and cut > start:
        lines.append(line[start:cut])
        start = cut
    lines.append(line[start:])
    if max(len(part) for part in lines) > _HARD_LIMIT:
        return None
    return "\r\n".join(lines).encode() + CRLF


def _encoded_words(name: str, value: str) -> bytes:
    """`name: value` as UTF-8 base64 encoded words of at most 75 characters, each of whole
    characters, one per line (whitespace between encoded words is not part of the text)."""
    data = value.encode()
    # bytes per word: 45 (60 characters of base64) on continuation lines; fewer after the name
    first = max(3, min(45, (_SOFT_LIMIT - len(name) - 2 - len(_EW_PREFIX) - len(_EW_SUFFIX)) // 4 * 3))
    words, start, size = [], 0, first
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and end > start + 1 and 0x80 <= data[end] < 0xC0:
            end -= 1  # never cut inside a character
        words.append(_EW_PREFIX + binascii.b2a_base64(data[start:end], newline=False) + _EW_SUFFIX)
        start, size = end, 45
    return name.encode() + b": " + b"\r\n ".join(words) + CRLF


def _part(content_type: bytes, content: str) -> list[bytes]:
    """The headers and body of one text part: UTF-8, lines ended by CRLF, the last one too."""
    if "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")
    if not content.endswith("\n"):
        content += "\n"
    raw = content.encode()
    # line breaks in canonical form (CRLF) before either encoding (RFC 2045 §6.8, RFC 2046 §4.1.1)
    data = raw.replace(b"\n", CRLF)
    # quoted-printable triples each non-ASCII byte, base64 adds a third to everything
    if (len(raw) - len(content)) * 10 < len(raw):
        encoding = b"quoted-printable"
        body = binascii.b2a_qp(data, istext=True)
    else:
        encoding = b"base64"
        flat = binascii.b2a_base64(data, newline=False)
        body = CRLF.join(flat[i : i + 76] for i in range(0, len(flat), 76)) + CRLF
    return [
        b"Content-Type: " + content_type + b'; charset="utf-8"\r\nContent-Transfer-Encoding: ',
        encoding,
        CRLF + CRLF,
        body,
    ]
