"""Typed settings every service shares, read from the environment."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from wom_contracts import EVERY_SCOPE, Scope, service_source

__all__ = [
    "MIN_SECRET_BYTES",
    "ApiTokenEntry",
    "HttpUrlSetting",
    "SecretsRefused",
    "ServiceSettings",
    "batch_size_field",
    "check_secrets",
    "secret_problems",
]

HttpUrlSetting = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]
"""A URL setting: http or https, a host, an optional path, no white space (kept a `str`:
the services join paths onto it as written)."""


MIN_SECRET_BYTES = 32
"""The shortest secret a service takes outside development: 256 bits, what `openssl rand -hex 32`
gives (a key of HMAC-SHA256, or a token guessed online)."""


def _known_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - {*Scope, EVERY_SCOPE})
    if unknown:
        raise ValueError(f"unknown scopes {unknown}: the scopes are {sorted(Scope)} and {EVERY_SCOPE!r}")
    return scopes


class ApiTokenEntry(BaseModel):
    """One API credential as a tokens file or `API_TOKENS` holds it: the token's SHA-256, never
    the token (`womctl token new` makes both). Two entries of one name are one client's two
    tokens, both valid while it rotates from the old to the new."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="who the client is; recorded with what it changes (a review's reviewer)",
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the token's SHA-256, lowercase hex")
    scopes: tuple[str, ...] = Field(min_length=1, description="what it may do (wom_contracts.Scope)")

    _scopes_known = field_validator("scopes")(_known_scopes)


def secret_problems(settings: BaseSettings) -> list[str]:
    """What is wrong with `settings`' secrets for a real deployment, each naming its variable:
    a required one (`required_secrets`) unset, any set one empty, shorter than
    `MIN_SECRET_BYTES` (not `supplied_secrets`: passwords another system issues, only checked
    for emptiness) or the shipped development value (the field's default)."""
    problems: list[str] = []
    required: tuple[str, ...] = getattr(settings, "required_secrets", ())
    supplied: tuple[str, ...] = getattr(settings, "supplied_secrets", ())
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if not (isinstance(value, SecretStr) or (value is None and name in required)):
            continue
        variable = name.upper()
        if value is None:
            problems.append(f"{variable} is not set")
            continue
        secret = value.get_secret_value().encode()
        if not secret:
            problems.append(f"{variable} is empty")
        elif isinstance(field.default, SecretStr) and value == field.default:
            problems.append(f"{variable} is the shipped development value, known to anyone")
        elif name not in supplied and len(secret) < MIN_SECRET_BYTES:
            problems.append(f"{variable} is {len(secret)} bytes long: it needs at least {MIN_SECRET_BYTES}")
    return problems


class SecretsRefused(RuntimeError):
    """A service asked to start outside `WOM_ENV=dev` with secrets that are not real ones."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "refusing to start with these secrets (WOM_ENV=dev admits them, for development only; "
            "make each with `openssl rand -hex 32`): " + "; ".join(problems)
        )
        self.problems = problems


def check_secrets(settings: ServiceSettings) -> list[str]:
    """Raise `SecretsRefused` when a service's secrets are not fit for a real deployment, unless
    `WOM_ENV=dev`; return what is wrong with them then (the service warns of each)."""
    problems = secret_problems(settings)
    if settings.api_token is None and not settings.api_tokens and settings.api_tokens_file is None:
        problems.append("no API credential: set API_TOKENS_FILE (or API_TOKENS, or API_TOKEN)")
    if settings.upstream_sources is None:
        problems.append(
            "UPSTREAM_SOURCES is unset: name the ce_source of each system that publishes commerce "
            'events and survey answers (a JSON list), or ["*"] to take any'
        )
    if problems and settings.wom_env != "dev":
        raise SecretsRefused(problems)
    return problems


def batch_size_field(default: int) -> Any:
    """The `consume_batch_size` setting (`CONSUME_BATCH_SIZE`) with a service's own default: a
    service whose handlers are slow fetches fewer records, so one transaction, and the wait of
    the records behind it, stays short."""
    return Field(default=default, ge=1, le=10_000, description="records per fetch and transaction")


class ServiceSettings(BaseSettings):
    """Settings of one service; each service subclasses it and sets `service_name` and ports."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_default=True)

    required_secrets: ClassVar[tuple[str, ...]] = ()
    """The secrets a service cannot run without outside `WOM_ENV=dev` (a subclass adds its own)."""
    supplied_secrets: ClassVar[tuple[str, ...]] = ("kafka_sasl_password", "smtp_password")
    """Secrets another system issues (passwords): refused when empty, not for their length."""

    wom_env: Literal["dev", "prod"] = Field(
        default="prod",
        description="dev admits unset, short and shipped development secrets (make up, make demo "
        "and the tests set it); anywhere else the service refuses to start without real ones",
    )
    service_name: str = Field(default="service", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = False
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    consumer_group: str | None = Field(default=None, description="defaults to wom-<service_name>")
    consume_batch_size: int = batch_size_field(500)
    consume_batch_timeout_ms: int = Field(default=200, ge=1)
    consume_partition_fetch_bytes: int = Field(
        default=262_144,
        ge=16_384,
        description="bytes the consumer fetches ahead per partition; it holds up to this much of "
        "each partition it reads in memory (aiokafka's default of 1 MiB, over a service's dozens "
        "of partitions, was most of its memory during a backlog)",
    )
    consumer_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="how long the group waits for a member that went silent (a killed process) "
        "before its partitions go to another; heartbeats every third of it",
    )
    handler_max_attempts: int = Field(default=4, ge=1, le=20)
    retry_initial_seconds: float = Field(default=0.2, gt=0)
    retry_max_seconds: float = Field(default=5.0, gt=0)
    database_url: str = ""
    run_migrations: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    api_token: SecretStr | None = Field(
        default=None,
        description="one credential, named api-token, holding API_TOKEN_SCOPES (every scope by "
        "default): for one machine and development; a deployment issues a token per client",
    )
    api_token_scopes: tuple[str, ...] = Field(default=(EVERY_SCOPE,), min_length=1)
    api_tokens: tuple[ApiTokenEntry, ...] = Field(
        default=(), description="credentials as JSON: [{name, sha256, scopes}, ...]"
    )
    api_tokens_file: Path | None = Field(
        default=None, description="a TOML file of [[tokens]] tables {name, sha256, scopes}"
    )
    http_max_body_bytes: int = Field(
        default=262_144,
        ge=1_024,
        le=16_777_216,
        description="the largest request body taken (413 beyond, before anything reads it)",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="comma-separated addresses or networks of the proxies (an ingress) whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed: behind them the scheme and the "
        "client address are the visitor's; `*` trusts anyone who can reach the port",
    )
    hsts_max_age_seconds: int = Field(
        default=31_536_000,
        ge=0,
        description="Strict-Transport-Security on every answer outside WOM_ENV=dev (0: none)",
    )
    upstream_sources: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] | None = Field(
        default=None,
        min_length=1,
        description="the CloudEvents `source` of each upstream publisher (a JSON list): a commerce "
        "event or survey answer from any other is dead-lettered (unexpected_source), as is a wom "
        'event whose source is not its service\'s; `["*"]` takes upstream events from anyone; '
        "unset, the service refuses to start outside WOM_ENV=dev",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    relay_every_seconds: float = Field(default=0.2, gt=0)
    relay_batch_size: int = Field(default=500, ge=1, description="rows the relay publishes per round")
    relay_sweep_every_seconds: float = Field(
        default=2.0,
        gt=0,
        description="how often the relay publishes rows that waited this long without being "
        "published from memory (other processes' rows)",
    )
    outbox_retention_hours: float = Field(default=72.0, gt=0)
    outbox_max_age_seconds: float = Field(
        default=60.0, gt=0, description="/health fails when an unsent outbox row is older"
    )
    consume_mode: Literal["batch", "record"] = "batch"
    workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="consumer processes forked into the service's consumer group, each with "
        "its share of the partitions and its own outbox relay (PostgreSQL only: SQLite admits "
        "one writer)",
    )
    shutdown_grace_seconds: float = Field(default=30.0, gt=0)
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector base URL; spans are exported only when set"
    )

    _token_scopes_known = field_validator("api_token_scopes")(_known_scopes)

    @model_validator(mode="after")
    def _defaults_from_service_name(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///var/{self.service_name}.db"
        if not self.consumer_group:
            self.consumer_group = f"wom-{self.service_name}"
        if self.workers > 1 and self.database_url.startswith("sqlite"):
            raise ValueError(
                f"WORKERS={self.workers} needs PostgreSQL: on SQLite WORKERS must be 1 (one "
                "writer per database file); set DATABASE_URL=postgresql+asyncpg://… to run "
                "several consumer processes"
            )
        return self

    @property
    def upstream_producers(self) -> frozenset[str] | None:
        """The upstream publishers whose events are taken; None: anyone's."""
        if self.upstream_sources is None or "*" in self.upstream_sources:
            return None
        return frozenset(self.upstream_sources)

    @property
    def dead_letter_topic(self) -> str:
        """The topic where this service parks records it cannot process."""
        return f"{self.service_name}.dlq"

    @property
    def event_source(self) -> str:
        """The CloudEvents `source` of events this service emits."""
        return service_source(self.service_name)

    def kafka_client_options(self) -> dict[str, Any]:
        """Connection options for plain aiokafka clients (operator tools), SASL/TLS included."""
        security = self.kafka_security()
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if security is not None:
            options["ssl_context"] = security.ssl_context
            if self.kafka_security_protocol.startswith("SASL"):
                options["sasl_mechanism"] = self.kafka_sasl_mechanism
                options["sasl_plain_username"] = self.kafka_sasl_username
                options["sasl_plain_password"] = security.password  # type: ignore[attr-defined]
        return options

    def kafka_security(self) -> BaseSecurity | None:
        """FastStream security for SASL/TLS clusters; None for plain connections."""
        protocol = self.kafka_security_protocol
        if protocol == "PLAINTEXT":
            return None
        ssl_context = None
        if protocol.endswith("SSL"):
            ssl_context = ssl.create_default_context(
                cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
            )
        if protocol == "SSL":
            return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
        if self.kafka_sasl_username is None or self.kafka_sasl_password is None:
            raise ValueError("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required for SASL")
        sasl = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return sasl[self.kafka_sasl_mechanism](
            self.kafka_sasl_username,
            self.kafka_sasl_password.get_secret_value(),
            ssl_context=ssl_context,
            use_ssl=protocol == "SASL_SSL",
        )
