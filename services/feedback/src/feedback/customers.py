"""How the console finds a customer by email without feedback keeping addresses: an HMAC of the
address as shops write it (trimmed, lower case), keyed by FEEDBACK_SEARCH_SECRET."""

from __future__ import annotations

from wom_chassis.privacy import keyed_hash

__all__ = ["EmailHasher"]


class EmailHasher:
    """The keyed hash of an email address; equal addresses in any case hash alike."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def __call__(self, address: str) -> str:
        return keyed_hash(self._key, address.strip().lower())
