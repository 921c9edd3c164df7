"""The referrals rules file: typed, validated at start-up, every error names its key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Self

import disposable_email_domains
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from wom_chassis import RulesError, load_rules_file

__all__ = [
    "DEFAULT_DISPOSABLE_DOMAINS_FILE",
    "DEFAULT_RULES_FILE",
    "AttributionRules",
    "CodeRules",
    "EmailRules",
    "FraudRule",
    "FraudRules",
    "QualificationRules",
    "Rules",
    "RulesError",
    "ScoreThresholds",
    "ShareMessage",
    "ShareRules",
    "VelocityRule",
    "load_rules",
]

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.default.yaml")
DEFAULT_DISPOSABLE_DOMAINS_FILE = Path(__file__).with_name("disposable_domains.txt")

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Domain = Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$", to_lower=True)]
Action = Literal["reject", "review", "score", "off"]


class _Strict(BaseModel):
    # a misspelt key in a rules file must be an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeRules(_Strict):
    """Referral codes: the first name (transliterated) and `random_length` characters of an
    unambiguous alphabet; codes without a name get two characters more."""

    with_first_name: bool = True
    random_length: int = Field(default=4, ge=3, le=12)
    name_max_length: int = Field(default=10, ge=2, le=20)


class AttributionRules(_Strict):
    """A friend stays attributed to the advocate whose code came first for `window_days`."""

    window_days: int = Field(default=60, ge=1)


class QualificationRules(_Strict):
    """The friend's first order qualifies at or above the minimum of its currency (a currency
    not listed has no minimum); rewards wait `hold_days` (the return window)."""

    minimum_order: dict[Currency, Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    hold_days: float = Field(default=14, ge=0, allow_inf_nan=False)  # fractions: tests and the demo


class EmailRules(_Strict):
    """How addresses are normalised before they are compared: providers that ignore dots in the
    local part, providers that deliver `name+tag@` to `name@`, and domains that are one mailbox."""

    dot_insensitive_domains: list[Domain] = Field(default_factory=list)
    plus_tag_domains: list[Domain] = Field(default_factory=list)
    domain_aliases: dict[Domain, Domain] = Field(default_factory=dict)


class FraudRule(_Strict):
    """What one fraud rule does when it fires: reject, send to review, add `weight` to the risk
    score, or nothing (off)."""

    action: Action
    weight: int = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _weight_for_score(self) -> Self:
        if self.action == "score" and self.weight == 0:
            raise ValueError("action 'score' needs a weight above 0")
        return self


class VelocityRule(FraudRule):
    """Fires when the advocate already has `limit` qualified referrals in the period."""

    limit: int = Field(ge=1)


class ScoreThresholds(_Strict):
    """The risk score (0–100) sends a referral to review at `review_at` and rejects it at
    `reject_at`."""

    review_at: int = Field(default=50, ge=1, le=100)
    reject_at: int = Field(default=90, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.reject_at < self.review_at:
            raise ValueError("reject_at must not be below review_at")
        return self


class FraudRules(_Strict):
    """Every fraud rule, each with its reason code as its key."""

    self_referral_same_customer: FraudRule = FraudRule(action="reject")
    self_referral_same_email: FraudRule = FraudRule(action="reject")
    self_referral_same_payment: FraudRule = FraudRule(action="reject")
    self_referral_same_device: FraudRule = FraudRule(action="score", weight=60)
    self_referral_same_ip: FraudRule = FraudRule(action="score", weight=30)
    disposable_email: FraudRule = FraudRule(action="score", weight=40)
    payment_shared_with_other_friend: FraudRule = FraudRule(action="score", weight=50)
    velocity_daily: VelocityRule = VelocityRule(action="review", limit=5)
    velocity_weekly: VelocityRule = VelocityRule(action="review", limit=20)
    referral_ring: FraudRule = FraudRule(action="reject")
    score: ScoreThresholds = ScoreThresholds()
    disposable_domains_file: Path | None = None
    extra_disposable_domains: list[Domain] = Field(default_factory=list)


class ShareMessage(_Strict):
    """The prefilled invitation of one language; `{url}` and `{shop}` are filled in."""

    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _has_url(self) -> Self:
        if "{url}" not in self.text:
            raise ValueError("text must contain {url}")
        return self


class ShareRules(_Strict):
    """Share links per channel with a prefilled message in the customer's language."""

    shop_name: str = Field(default="our shop", min_length=1, max_length=100)
    messages: dict[str, ShareMessage]

    @model_validator(mode="after")
    def _english_fallback(self) -> Self:
        if "en" not in self.messages:
            raise ValueError("messages.en is required (the last fallback)")
        return self


class Rules(_Strict):
    """Every rule of the referrals service."""

    codes: CodeRules = CodeRules()
    attribution: AttributionRules = AttributionRules()
    qualification: QualificationRules = QualificationRules()
    email: EmailRules = EmailRules()
    fraud: FraudRules = FraudRules()
    share: ShareRules

    def disposable_domains(self) -> frozenset[str]:
        """The disposable-email-domains package's list, wom's additions to it, the configured file
        and the extras."""
        domains = {*disposable_email_domains.blocklist, *_domain_lines(DEFAULT_DISPOSABLE_DOMAINS_FILE)}
        if self.fraud.disposable_domains_file is not None:
            domains |= set(_domain_lines(self.fraud.disposable_domains_file))
        return frozenset(domains | set(self.fraud.extra_disposable_domains))


def _domain_lines(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RulesError(f"cannot read disposable domains file {path}: {error}") from None
    return [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]


def load_rules(path: Path = DEFAULT_RULES_FILE) -> Rules:
    """Read and validate a rules file (and the disposable domain lists it names)."""
    rules = load_rules_file(path, Rules)
    rules.disposable_domains()  # an unreadable domains file is a start-up error too
    return rules
