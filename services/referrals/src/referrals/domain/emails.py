"""Email addresses as fraud rules compare them."""

from __future__ import annotations

from collections.abc import Collection

from referrals.rules import EmailRules

__all__ = ["email_domain", "is_disposable", "normalise_email"]


def email_domain(address: str) -> str:
    """The domain of an address, lower case."""
    return address.strip().rpartition("@")[2].lower()


def normalise_email(address: str, rules: EmailRules) -> str:
    """One form per mailbox: lower case, domain aliases folded (`googlemail.com` → `gmail.com`),
    `+tags` dropped and dots removed where the provider ignores them."""
    local, _, domain = address.strip().lower().rpartition("@")
    domain = rules.domain_aliases.get(domain, domain)
    if domain in rules.plus_tag_domains:
        local = local.split("+", 1)[0]
    if domain in rules.dot_insensitive_domains:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def is_disposable(domain: str, disposable_domains: Collection[str]) -> bool:
    """True for a throw-away mail domain or any subdomain of one (`x.mailinator.com`)."""
    parts = domain.lower().split(".")
    return any(".".join(parts[i:]) in disposable_domains for i in range(len(parts) - 1))
