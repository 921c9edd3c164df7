"""The referral programme as the handlers and the API use it: rules, settings and the key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from wom_chassis.privacy import keyed_hash

from referrals.domain.codes import code_candidates, name_prefix
from referrals.domain.emails import email_domain, is_disposable, normalise_email
from referrals.rules import Rules
from referrals.settings import ReferralsSettings

__all__ = ["Programme"]


@dataclass(frozen=True)
class Programme:
    """Rules and deployment settings in one place, with the hashing key applied."""

    rules: Rules
    settings: ReferralsSettings
    disposable_domains: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, rules: Rules, settings: ReferralsSettings) -> Programme:
        """The programme of these rules and settings."""
        return cls(rules, settings, rules.disposable_domains())

    @property
    def key(self) -> bytes:
        """The key personal data is hashed with."""
        return self.settings.referrals_hash_secret.get_secret_value().encode()

    def hashed(self, value: str | None) -> str | None:
        """A keyed hash of `value` (None stays None)."""
        return None if value is None else keyed_hash(self.key, value)

    def email_hash(self, address: str) -> str:
        """The keyed hash of the normalised address: one value per mailbox."""
        return keyed_hash(self.key, normalise_email(address, self.rules.email))

    def is_disposable(self, address: str) -> bool:
        """True when the address is at a throw-away mail domain."""
        return is_disposable(email_domain(address), self.disposable_domains)

    def code_candidates(self, customer_id: str, first_name: str | None) -> Iterator[str]:
        """The customer's candidate codes, best first (the first one not taken is theirs)."""
        rules = self.rules.codes
        prefix = name_prefix(first_name, rules.name_max_length) if rules.with_first_name else None
        return code_candidates(customer_id, prefix, key=self.key, length=rules.random_length)
