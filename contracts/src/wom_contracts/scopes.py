"""What an API credential may do: the scopes a route declares and a token is issued with.

One vocabulary for the four services, the tokens files and `womctl token new`: a credential for
the support desk can read customers and decide reviews without being able to redeem points."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EVERY_SCOPE", "Scope"]


class Scope(StrEnum):
    CUSTOMERS_READ = "customers:read"
    """One customer's data: referral code and referrals, balance, ledger, tier, messages; the key
    clients."""
    REDEMPTIONS_WRITE = "redemptions:write"
    """Turn a customer's points or credit into a coupon code that is returned to the caller."""
    REVIEWS_READ = "reviews:read"
    """The referrals waiting for review, with their risk signals."""
    REVIEWS_DECIDE = "reviews:decide"
    """Approve or reject a referral in review; the credential's name is recorded as reviewer."""
    INTAKE_WRITE = "intake:write"
    """Submit survey answers over HTTP (a survey tool may sign them instead)."""
    ANALYTICS_READ = "analytics:read"
    """The aggregate reports and the analytics page: counts and rates, no customer's data."""
    OPS_READ = "ops:read"
    """Operational views: deliveries of escalations, template previews."""


EVERY_SCOPE = "*"
"""A credential holding every scope (the single `API_TOKEN` by default)."""
