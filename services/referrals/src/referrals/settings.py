"""Settings of the referrals service."""

from __future__ import annotations

from wom_chassis import ServiceSettings

__all__ = ["ReferralsSettings"]


class ReferralsSettings(ServiceSettings):
    """Referrals settings (rules arrive with the referrals issue)."""

    service_name: str = "referrals"
    http_port: int = 8001
