"""Settings of the referrals service; the business rules live in the rules file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from wom_chassis import ServiceSettings
from wom_chassis.settings import HttpUrlSetting, batch_size_field

from referrals.rules import DEFAULT_RULES_FILE

__all__ = ["DEV_HASH_SECRET", "ReferralsSettings"]

DEV_HASH_SECRET = "wom-dev-only-hash-key"


class ReferralsSettings(ServiceSettings):
    """Referrals settings: where share links point, and the key personal data is hashed with."""

    # its handlers take some 10 ms an event: 100 keeps a transaction near a second
    consume_batch_size: int = batch_size_field(100)

    service_name: str = "referrals"
    http_port: int = 8001
    referrals_rules_file: Path = Field(
        default=DEFAULT_RULES_FILE, description="the YAML rules file (window, minimums, fraud, share texts)"
    )
    referrals_public_url: HttpUrlSetting = Field(
        default="http://127.0.0.1:8001",
        description="the public base URL of this service: share links are <it>/r/<code>",
    )
    referrals_storefront_url: HttpUrlSetting = Field(
        default="http://127.0.0.1:8080/",
        description="where a share link sends the visitor (the code is added as a query parameter)",
    )
    referrals_storefront_code_param: str = Field(default="ref", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    referrals_share_link_visits_per_minute: int = Field(
        default=30, ge=1, description="share-link visits one client address may make a minute; then 429"
    )
    referrals_hash_secret: SecretStr = Field(
        default=SecretStr(DEV_HASH_SECRET),
        description="key of the hashes of emails, IPs, devices and codes; set a long random secret",
    )
