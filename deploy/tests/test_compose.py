"""docker-compose.yml, checked without a Docker engine: against the Compose specification's JSON
Schema (vendored in deploy/schemas/), and against the services' own settings classes — every
setting production needs is set, secrets only from required variables, the values validate, each
service has its own database and user as deploy/postgres/init.sql creates them, healthchecks and
start order."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from feedback.settings import FeedbackSettings
from outreach.settings import OutreachSettings
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from referrals.settings import ReferralsSettings
from rewards.settings import RewardsSettings
from sqlalchemy.engine import make_url
from wom_chassis import ServiceSettings
from wom_chassis.mail import MailSettings
from womctl.principals import ACLS_FILE, COMPOSE_LOOPBACK, OPERATOR, principal_of, principals, render_acls

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy/compose.env.example"
INIT_SQL = ROOT / "deploy/postgres/init.sql"
SCHEMA_FILE = ROOT / "deploy/schemas/compose-spec.json"
KAFKA_DIR = ROOT / "deploy/kafka"
# compose/config/compose_spec.json of the docker-compose 1.29.2 wheel on PyPI (deploy/schemas/README.md)
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "referrals": ReferralsSettings,
    "rewards": RewardsSettings,
    "outreach": OutreachSettings,
    "feedback": FeedbackSettings,
}
# What production needs although the class has a default for it: the defaults are for `make up`
# on one machine (SQLite, the embedded broker on 127.0.0.1, no token, ports 8001–8004).
ALWAYS = {"database_url", "kafka_bootstrap_servers", "kafka_enable_idempotence", "api_tokens_file",
          "http_host", "http_port"}  # fmt: skip
MAIL = {"smtp_host", "smtp_port", "mail_from"}
ALSO = {"referrals": {"referrals_storefront_url"}, "feedback": {"feedback_agents_file"}}
REQUIRED = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}")


# --- reading the file as compose does ----------------------------------------------------------


class MissingVariable(Exception):
    """A `${VAR:?message}` whose variable is unset or empty: compose refuses to start."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation over a loaded document: $$, ${V}, ${V:-d}, ${V-d}, ${V:?e}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name, op, arg = match["name"] or match["bare"], match["op"], match["arg"]
        unset = name not in env or (env[name] == "" and op in (":-", ":?"))
        if not unset:
            return env[name]
        if op in (":-", "-"):
            return str(arg)
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return ""

    return _VARIABLE.sub(replace, value)


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves anchors and `<<` merge keys
    assert isinstance(document, dict)
    return document


def required_variables(text: str) -> set[str]:
    return {match["name"] for match in REQUIRED.finditer(text)}


def fake_environment() -> dict[str, str]:
    """A value for every required variable (and none for those with defaults)."""
    shaped = {"WOM_UPSTREAM_SOURCES": '["test-shop"]'}  # a JSON list, as the operator writes it
    return {
        name: shaped.get(name, f"test-{name.lower()}")
        for name in required_variables(COMPOSE_FILE.read_text())
    }


def environment_of(service: Mapping[str, Any]) -> dict[str, Any]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        pairs = [item.split("=", 1) if "=" in item else [item, None] for item in environment]
        return {key: value for key, value in pairs}
    return dict(environment)


def mounts_of(service: Mapping[str, Any]) -> dict[str, str]:
    """Container path → host path of a service's (interpolated) short-syntax volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[target] = source
    return mounts


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    result = interpolate(compose, fake_environment())
    assert isinstance(result, dict)
    return result


def test_interpolation_reads_variables_as_compose_does() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("a${SET}b$SET $$SET", env) == "avbv $SET"
    assert interpolate("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "d d  d"
    with pytest.raises(MissingVariable, match="EMPTY: say so"):
        interpolate({"k": ["${EMPTY:?say so}"]}, env)
    assert interpolate("${EMPTY?fine when set}", env) == ""


# --- the Compose specification -----------------------------------------------------------------


def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    # The file declares draft 2019-09 but is written in draft-07 terms (`definitions`, no
    # 2019-09-only keywords); its custom formats (duration, ports) are not checked here.
    return jsonschema.Draft7Validator(schema)


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in compose_validator().iter_errors(document)
    ]


def test_the_vendored_schema_is_the_published_file() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []
    # interpolated, too: the values compose sees after reading .env
    assert schema_errors(interpolate(compose, fake_environment())) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda c: c["services"]["rewards"].update(helthcheck=c["services"]["rewards"].pop("healthcheck")),
        lambda c: c["services"]["rewards"]["depends_on"]["postgres"].update(condition="service_ready"),
        lambda c: c["services"]["kafka"]["healthcheck"].update(interval=10),
        lambda c: c.update(volume={}),
    ],
    ids=["misspelt-key", "unknown-condition", "number-for-duration", "unknown-top-level"],
)
def test_the_schema_rejects_what_compose_rejects(compose: dict[str, Any], break_it: Any) -> None:
    broken = copy.deepcopy(compose)
    break_it(broken)
    assert schema_errors(broken)


# --- settings ----------------------------------------------------------------------------------


def _is_secret(info: FieldInfo) -> bool:
    return "SecretStr" in str(info.annotation)


def production_settings(name: str) -> set[str]:
    """Fields that must be set for production: no default, a development default, or listed."""
    cls = SETTINGS[name]
    needed = ALWAYS | ALSO.get(name, set()) | (MAIL if issubclass(cls, MailSettings) else set())
    for field, info in cls.model_fields.items():
        dev_secret = isinstance(info.default, SecretStr)
        if info.is_required() or dev_secret or field.endswith(("_public_url", "_rules_file")):
            needed.add(field)
    return needed


def test_the_production_settings_are_found_from_the_classes() -> None:
    assert {"referrals_hash_secret", "referrals_public_url", "referrals_rules_file"} <= production_settings(
        "referrals"
    )
    outreach = {"outreach_unsubscribe_secret", "outreach_public_url", "smtp_host"}
    assert outreach <= production_settings("outreach")
    assert {"feedback_session_secret", "feedback_agents_file", "mail_from"} <= production_settings("feedback")
    assert "smtp_host" not in production_settings("rewards")
    for cls in SETTINGS.values():
        assert cls.model_config.get("env_prefix", "") == ""  # env var = field name in capitals


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_production_needs_is_set(compose: dict[str, Any], name: str) -> None:
    environment = environment_of(compose["services"][name])
    missing = sorted(f.upper() for f in production_settings(name) if environment.get(f.upper()) is None)
    assert not missing, f"{name} lacks {missing} in docker-compose.yml"


@pytest.mark.parametrize("name", SETTINGS)
def test_secrets_come_only_from_required_variables(compose: dict[str, Any], name: str) -> None:
    environment = environment_of(compose["services"][name])
    fields = SETTINGS[name].model_fields
    for field in sorted(production_settings(name)):
        if _is_secret(fields[field]):
            value = str(environment[field.upper()])
            assert REQUIRED.fullmatch(value), f"{name}: {field.upper()}={value!r} is not a ${{VAR:?...}}"


def test_each_secret_has_its_own_variable(compose: dict[str, Any]) -> None:
    owners: dict[str, set[str]] = {}
    for name, cls in SETTINGS.items():
        environment = environment_of(compose["services"][name])
        for field, info in cls.model_fields.items():
            if isinstance(info.default, SecretStr):  # a service's own keys; API_TOKEN may be shared
                (variable,) = required_variables(str(environment[field.upper()]))
                owners.setdefault(variable, set()).add(f"{name}.{field}")
    assert owners and all(len(users) == 1 for users in owners.values()), owners


def test_every_required_variable_is_in_the_example_env_file() -> None:
    listed = {
        line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines() if re.match(r"^\w+=", line)
    }
    assert required_variables(COMPOSE_FILE.read_text()) == listed
    with pytest.raises(MissingVariable):
        interpolate(load_compose(), {})


@pytest.mark.parametrize("name", SETTINGS)
def test_the_compose_environment_makes_valid_production_settings(
    resolved: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = SETTINGS[name]
    for field in cls.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    service = resolved["services"][name]
    for key, value in environment_of(service).items():
        if value is not None:  # `KEY:` with no value passes the variable through only when set
            monkeypatch.setenv(key, str(value).lower() if isinstance(value, bool) else str(value))
    settings = cls(_env_file=None)

    assert settings.kafka_enable_idempotence is True
    assert settings.http_host == "0.0.0.0"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.api_tokens_file is not None and settings.api_token is None  # a credential per client
    for field, info in cls.model_fields.items():
        value = getattr(settings, field)
        if isinstance(info.default, SecretStr):
            assert value.get_secret_value() != info.default.get_secret_value(), (
                f"{field} keeps its dev default"
            )
    mounts = mounts_of(service)
    for field in production_settings(name):
        if field.endswith("_file"):
            path = str(getattr(settings, field))
            assert path in mounts, f"{name}: {field.upper()}={path} is not mounted into the container"
            source = mounts[path]
            default = cls.model_fields[field].default
            if source.startswith("test-"):  # a required variable: the operator's own file
                continue
            assert (ROOT / source).resolve() == Path(default).resolve(), f"{name} mounts {source} for {field}"


# --- PostgreSQL: one database and one user per service -----------------------------------------


def parse_init_sql() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(psql variable → environment variable, role → psql variable of its password, database → owner)."""
    text = INIT_SQL.read_text()
    getenv = dict(re.findall(r"^\\getenv (\w+) (\w+)$", text, re.MULTILINE))
    roles = dict(re.findall(r"^CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)';$", text, re.MULTILINE))
    owners = dict(re.findall(r"^CREATE DATABASE (\w+) OWNER (\w+);$", text, re.MULTILINE))
    revoked = set(re.findall(r"^REVOKE ALL ON DATABASE (\w+) FROM PUBLIC;$", text, re.MULTILINE))
    assert revoked == set(owners), "every service database is closed to the other roles"
    return getenv, roles, owners


def test_init_sql_gives_every_service_its_database_and_user() -> None:
    getenv, roles, owners = parse_init_sql()
    assert set(owners) == {f"wom_{name}" for name in SETTINGS}
    assert len(set(owners.values())) == len(owners), "one user per database"
    assert set(owners.values()) == set(roles)
    assert set(roles.values()) <= set(getenv)


def test_init_sql_runs_in_the_postgres_container(resolved: dict[str, Any]) -> None:
    postgres = resolved["services"]["postgres"]
    mounts = mounts_of(postgres)
    (sql,) = [
        source for target, source in mounts.items() if target.startswith("/docker-entrypoint-initdb.d/")
    ]
    assert (ROOT / sql).resolve() == INIT_SQL
    getenv, _, _ = parse_init_sql()
    environment = environment_of(postgres)
    for variable in getenv.values():
        assert environment.get(variable), f"init.sql reads {variable}, which the postgres service lacks"


@pytest.mark.parametrize("name", SETTINGS)
def test_each_service_uses_its_own_database_and_user(resolved: dict[str, Any], name: str) -> None:
    getenv, roles, owners = parse_init_sql()
    url = make_url(environment_of(resolved["services"][name])["DATABASE_URL"])
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "postgres" and url.host in resolved["services"]
    assert url.database == f"wom_{name}"
    assert url.username == owners[url.database], f"{name} logs in as {url.username}, not the owner"
    # the password is the one init.sql gave that user, from the same variable
    postgres_env = environment_of(resolved["services"]["postgres"])
    assert url.password == postgres_env[getenv[roles[url.username]]]


# --- health and start order ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SETTINGS)
def test_each_service_has_a_healthcheck_on_its_port(resolved: dict[str, Any], name: str) -> None:
    service = resolved["services"][name]
    healthcheck = service.get("healthcheck", {})
    assert not healthcheck.get("disable") and healthcheck.get("test"), f"{name} has no healthcheck"
    urls = re.findall(r"https?://[^'\"\s]+", " ".join(healthcheck["test"]))
    assert urls, healthcheck["test"]
    port = environment_of(service)["HTTP_PORT"]
    for url in urls:
        parts = urlsplit(url)
        assert parts.path in ("/alive", "/health") and str(parts.port) == str(port), url
    assert any(mapping.endswith(f":{port}") for mapping in service.get("ports", [])), "published port"


@pytest.mark.parametrize("name", SETTINGS)
def test_each_service_starts_after_its_topics_database_and_mail(compose: dict[str, Any], name: str) -> None:
    depends_on = compose["services"][name].get("depends_on", {})
    assert isinstance(depends_on, dict), "depends_on with conditions"
    expected = {"topics": "service_completed_successfully", "postgres": "service_healthy"}
    if issubclass(SETTINGS[name], MailSettings):
        expected["mailpit"] = "service_healthy"
        assert environment_of(compose["services"][name])["SMTP_HOST"] == "mailpit"
    assert {key: value.get("condition") for key, value in depends_on.items()} == expected


def test_the_topics_job_runs_once_after_the_acls(compose: dict[str, Any]) -> None:
    services = compose["services"]
    topics = services["topics"]
    assert topics["command"] == ["topics", "apply"]
    assert topics["depends_on"] == {"kafka-acls": {"condition": "service_completed_successfully"}}
    assert topics.get("restart", "no") == "no"
    acls = services["kafka-acls"]
    assert acls["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert acls["network_mode"] == "service:kafka"  # reaches the broker's loopback listener
    assert acls["entrypoint"] == ["/bin/sh", "/etc/wom/kafka/acls.sh"] and acls.get("restart") == "no"
    assert mounts_of(acls)["/etc/wom/kafka"] == "./deploy/kafka"
    bootstrap = environment_of(topics)["KAFKA_BOOTSTRAP_SERVERS"]
    for name in SETTINGS:
        assert environment_of(services[name])["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
    assert f"CLIENTS://{bootstrap}" in broker_config()["advertised.listeners"].split(",")


def test_every_healthy_condition_waits_for_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        for target, condition in depends_on.items() if isinstance(depends_on, dict) else []:
            assert target in services, f"{name} depends on an unknown {target}"
            if condition.get("condition") == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), f"{target} has no healthcheck"


def test_kafka_runs_in_kraft_mode_and_mail_goes_to_mailpit(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert {services[name]["image"] for name in ("kafka-certs", "kafka-acls")} == {kafka["image"]}
    assert broker_config()["process.roles"] == "broker,controller"
    assert kafka["entrypoint"] == ["/bin/bash", "/etc/wom/kafka/start.sh"]
    assert mounts_of(kafka)["/etc/wom/kafka"] == "./deploy/kafka"
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert services["postgres"]["image"].startswith("postgres:")


# --- Kafka: SCRAM over TLS, a principal per service, ACLs --------------------------------------


def broker_config() -> dict[str, str]:
    lines = (KAFKA_DIR / "server.properties").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def scram_users(compose: dict[str, Any]) -> dict[str, str]:
    """Principal → the variable of the broker's environment holding its password."""
    pairs = environment_of(compose["services"]["kafka"])["KAFKA_SCRAM_USERS"].split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_clients_reach_the_broker_with_scram_over_tls_only() -> None:
    config = broker_config()
    protocols = dict(pair.split(":") for pair in config["listener.security.protocol.map"].split(","))
    for listener in config["listeners"].split(","):
        name, _, address = listener.partition("://")
        host = address.rpartition(":")[0]
        if protocols[name] != "SASL_SSL":  # PLAINTEXT (as ANONYMOUS, a super user): the loopback only
            assert host == "localhost", f"{listener} is {protocols[name]} beyond the container"
    assert [p for n, p in protocols.items() if p != "PLAINTEXT"] == ["SASL_SSL"]
    assert config["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert config["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert config["allow.everyone.if.no.acl.found"] == "false"
    assert config["super.users"] == "User:ANONYMOUS"
    assert config["ssl.client.auth"] == "none" and config["ssl.keystore.type"] == "PKCS12"


def test_the_broker_stores_a_credential_for_every_principal(compose: dict[str, Any]) -> None:
    users = scram_users(compose)
    assert set(users) == {person.name for person in principals()}
    assert len(set(users.values())) == len(users), "two principals share a password"
    kafka = environment_of(compose["services"]["kafka"])
    for variable in users.values():
        assert required_variables(str(kafka[variable])) == {variable}
    assert required_variables(str(kafka["KAFKA_KEYSTORE_PASSWORD"])) == {"WOM_KAFKA_KEYSTORE_PASSWORD"}


@pytest.mark.parametrize("name", [*SETTINGS, "topics"])
def test_each_client_logs_in_as_its_own_principal(compose: dict[str, Any], name: str) -> None:
    client = compose["services"][name]
    environment = environment_of(client)
    user = OPERATOR if name == "topics" else principal_of(name)
    assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert environment["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert environment["KAFKA_SASL_USERNAME"] == user
    assert required_variables(str(environment["KAFKA_SASL_PASSWORD"])) == {scram_users(compose)[user]}
    ca = Path(environment["KAFKA_SSL_CAFILE"])
    assert mounts_of(client)[str(ca.parent)] == "kafka-ca"  # what kafka-certs writes
    certs = (KAFKA_DIR / "certs.sh").read_text()
    assert (
        f"ca={ca} " in certs and f"SAN=dns:{environment['KAFKA_BOOTSTRAP_SERVERS'].split(':')[0]} " in certs
    )
    assert mounts_of(compose["services"]["kafka-certs"])[str(ca.parent)] == "kafka-ca"


def test_the_broker_reads_the_keystore_kafka_certs_writes(compose: dict[str, Any]) -> None:
    keystore = Path(broker_config()["ssl.keystore.location"])
    services = compose["services"]
    assert mounts_of(services["kafka"])[str(keystore.parent)] == "kafka-certs"
    assert mounts_of(services["kafka-certs"])[str(keystore.parent)] == "kafka-certs"
    assert f"keys={keystore.parent} " in (KAFKA_DIR / "certs.sh").read_text()
    assert services["kafka"]["depends_on"] == {"kafka-certs": {"condition": "service_completed_successfully"}}


def test_the_acls_are_generated_from_the_contracts() -> None:
    assert ACLS_FILE.read_text() == render_acls(principals()), (
        "deploy/kafka/acls.sh is stale: womctl kafka principals --output acls --write"
    )
    local = next(entry for entry in broker_config()["listeners"].split(",") if entry.startswith("LOCAL://"))
    assert local.removeprefix("LOCAL://") == COMPOSE_LOOPBACK


def _start(tmp_path: Path, environment: dict[str, str]) -> tuple[int, str, list[list[str]]]:
    """deploy/kafka/start.sh with stand-ins for the broker's scripts that record their arguments."""
    home = tmp_path / "kafka"
    (home / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    for script in ("kafka-storage.sh", "kafka-server-start.sh"):
        path = home / "bin" / script
        path.write_text(f'#!/bin/sh\nprintf "%s\\0" {script} "$@" >> {calls}; printf "\\n" >> {calls}\n')
        path.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "WOM_KAFKA_HOME": str(home), "TMPDIR": str(tmp_path), **environment}
    result = subprocess.run(["bash", str(KAFKA_DIR / "start.sh")], env=env, capture_output=True, text=True)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return result.returncode, result.stderr, [line.strip("\0").split("\0") for line in recorded]


def test_the_broker_formats_its_log_with_every_credential_then_starts(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    kafka = interpolate(compose, fake_environment())["services"]["kafka"]
    environment = {key: str(value) for key, value in environment_of(kafka).items()}
    environment |= {variable: f"pw-{variable.lower()}" for variable in scram_users(compose).values()}
    status, stderr, calls = _start(tmp_path, environment)
    assert status == 0, stderr
    (storage, *format_args), (start, config) = calls
    assert (storage, start) == ("kafka-storage.sh", "kafka-server-start.sh")
    assert format_args[:6] == [
        "format",
        "--config",
        config,
        "--cluster-id",
        environment["CLUSTER_ID"],
        "--ignore-formatted",
    ]
    added = format_args[6:]
    assert added[::2] == ["--add-scram"] * len(scram_users(compose))
    assert added[1::2] == [
        f"SCRAM-SHA-512=[name={user},password=pw-{variable.lower()}]"
        for user, variable in scram_users(compose).items()
    ]
    written = Path(config).read_text()
    assert written.startswith((KAFKA_DIR / "server.properties").read_text())
    assert written.endswith(f"ssl.keystore.password={environment['KAFKA_KEYSTORE_PASSWORD']}\n")
    # a password that the credential's syntax would split, or none: the broker does not start
    comma = environment | {"WOM_KAFKA_REWARDS_PASSWORD": "a,iterations=1"}
    status, stderr, calls = _start(tmp_path / "comma", comma)
    assert status == 2 and "WOM_KAFKA_REWARDS_PASSWORD: letters, digits" in stderr and not calls
    unset = {key: value for key, value in environment.items() if key != "WOM_KAFKA_OPERATOR_PASSWORD"}
    status, stderr, calls = _start(tmp_path / "unset", unset)
    assert status != 0 and "WOM_KAFKA_OPERATOR_PASSWORD is unset" in stderr and not calls


@pytest.mark.parametrize("name", SETTINGS)
def test_each_service_is_built_from_the_shared_dockerfile(compose: dict[str, Any], name: str) -> None:
    build = compose["services"][name]["build"]
    assert build["context"] == "."
    assert (ROOT / build["dockerfile"]).is_file()
    assert build["args"]["SERVICE"] == name
