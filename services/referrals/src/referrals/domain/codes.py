"""Referral codes: short, readable, unambiguous, unique, and the same on every rebuild."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from itertools import count

from anyascii import anyascii

__all__ = ["ALPHABET", "code_candidates", "name_prefix", "normalise_code"]

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""32 symbols without the look-alikes 0/O and 1/I, so a code read aloud or typed is unambiguous."""

TRIES_PER_LENGTH = 8
"""After this many taken candidates of one length, candidates grow by one character."""


def name_prefix(first_name: str | None, max_length: int = 10) -> str | None:
    """The first name as code prefix: transliterated to ASCII, letters only, upper case
    (`Ștefan` → `STEFAN`, `Анна` → `ANNA`); None when fewer than two letters remain."""
    if not first_name:
        return None
    letters = re.sub(r"[^A-Z]", "", anyascii(first_name).upper())[:max_length]
    return letters if len(letters) >= 2 else None


def _symbols(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest, "big")
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(length))


def code_candidates(customer_id: str, prefix: str | None, *, key: bytes, length: int) -> Iterator[str]:
    """Candidate codes for a customer, best first; the caller takes the first one not taken.

    Derived from a keyed hash of the customer id, so rebuilding the service from the event
    history gives every customer the code their friends were sent. Candidates grow by one
    character after every `TRIES_PER_LENGTH` collisions, so the sequence never runs dry."""
    if prefix is None:
        length += 2  # a bare code needs more characters to stay as hard to guess
    for attempt in count():
        size = min(length + attempt // TRIES_PER_LENGTH, 51)  # 51 symbols use a 256-bit digest
        digest = hmac.new(key, f"{customer_id}:{attempt}".encode(), hashlib.sha256).digest()
        random_part = _symbols(digest, size)
        yield f"{prefix}-{random_part}" if prefix else random_part


def normalise_code(code: str) -> str:
    """A code as typed by a person (any case, stray spaces) in the form it is stored."""
    return code.strip().upper()
